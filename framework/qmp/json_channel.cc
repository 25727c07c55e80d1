#include "qmp/json_channel.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "util/error.h"
#include "util/log.h"

namespace cpuhp {

JsonChannel::JsonChannel(UniqueFd fd, std::string name, Transcript* transcript)
    : fd_(std::move(fd)), name_(std::move(name)), transcript_(transcript) {}

void JsonChannel::Note(std::string_view text) {
  if (transcript_) transcript_->Record(name_, Transcript::Direction::kNote, text);
}

void JsonChannel::Send(const nlohmann::json& message, const Deadline& deadline) {
  std::string text = message.dump();
  LOG(kDebug, name_) << "-> " << text;
  if (transcript_) transcript_->Record(name_, Transcript::Direction::kSent, text);
  text += "\n";
  SendRaw(text, deadline);
}

void JsonChannel::SendRaw(std::string_view bytes, const Deadline& deadline) {
  try {
    WriteAll(fd_.get(), bytes, deadline);
  } catch (Error& e) {
    e.AddContext("on the " + name_ + " socket");
    throw;
  }
}

std::optional<nlohmann::json> JsonChannel::Receive(const Deadline& deadline) {
  for (;;) {
    if (auto msg = stream_.Next()) {
      std::string text = msg->dump();
      LOG(kDebug, name_) << "<- " << text;
      if (transcript_) transcript_->Record(name_, Transcript::Direction::kReceived, text);
      return msg;
    }
    if (eof_) throw ConnectionError(name_ + ": connection closed by peer");
    short revents = PollOne(fd_.get(), POLLIN, deadline);
    if (revents == 0) return std::nullopt;
    char buf[65536];
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      stream_.Feed(std::string_view(buf, static_cast<size_t>(n)));
    } else if (n == 0 || (n < 0 && errno == ECONNRESET)) {
      eof_ = true;
      if (transcript_) transcript_->Record(name_, Transcript::Direction::kNote, "EOF");
    } else if (errno != EINTR && errno != EAGAIN) {
      throw SystemError(name_ + ": recv", errno);
    }
  }
}

}  // namespace cpuhp
