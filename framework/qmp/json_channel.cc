#include "qmp/json_channel.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "util/error.h"
#include "util/log.h"

namespace cpuhp {

JsonChannel::JsonChannel(UniqueFd fd, std::string name, Transcript* transcript)
    : fd_(std::move(fd)), name_(std::move(name)), transcript_(transcript), stream_(name_) {}

std::string CommandName(const nlohmann::json& request) {
  auto it = request.is_object() ? request.find("execute") : request.end();
  return it != request.end() && it->is_string() ? it->get<std::string>() : "?";
}

PeerError ParsePeerError(const nlohmann::json& error, std::string_view where) {
  if (!error.is_object()) throw FieldTypeError(where, "error", "an object", error);
  PeerError out{"?", "?"};
  for (auto [key, field] : {std::pair{"class", &out.error_class}, std::pair{"desc", &out.desc}}) {
    if (auto* v =
            OptionalField(error, key, &nlohmann::json::is_string, "a string", where, "error.")) {
      *field = v->get<std::string>();
    }
  }
  return out;
}

const nlohmann::json* OptionalField(const nlohmann::json& obj, std::string_view key,
                                    JsonTypeCheck is_type, std::string_view expected,
                                    std::string_view where, std::string_view prefix) {
  auto it = obj.find(key);
  if (it == obj.end()) return nullptr;
  if (!((*it).*is_type)()) {
    throw FieldTypeError(where, std::string(prefix) + std::string(key), expected, *it);
  }
  return &*it;
}

const nlohmann::json& RequiredField(const nlohmann::json& obj, std::string_view key,
                                    JsonTypeCheck is_type, std::string_view expected,
                                    std::string_view where, std::string_view prefix) {
  if (auto* v = OptionalField(obj, key, is_type, expected, where, prefix)) return *v;
  throw ProtocolError(std::string(where) + ": field \"" + std::string(prefix) + std::string(key) +
                      "\" is missing (expected " + std::string(expected) +
                      "): " + DumpJsonShort(obj));
}

ProtocolError FieldTypeError(std::string_view where, std::string_view field,
                             std::string_view expected, const nlohmann::json& got) {
  return ProtocolError(std::string(where) + ": field \"" + std::string(field) + "\" is " +
                       got.type_name() + ", expected " + std::string(expected) + ": " +
                       DumpJsonShort(got));
}

void JsonChannel::Note(std::string_view text) {
  if (transcript_) transcript_->Record(name_, Transcript::Direction::kNote, text);
}

void JsonChannel::Send(const nlohmann::json& message, const Deadline& deadline) {
  std::string text = DumpJson(message);
  LOG(kDebug, name_) << "-> " << text;
  if (transcript_) transcript_->Record(name_, Transcript::Direction::kSent, text);
  text += "\n";
  SendRaw(text, deadline);
}

void JsonChannel::SendBatch(const std::vector<nlohmann::json>& messages, const Deadline& deadline) {
  std::string bytes;
  for (const auto& message : messages) {
    std::string text = DumpJson(message);
    LOG(kDebug, name_) << "-> " << text;
    if (transcript_) transcript_->Record(name_, Transcript::Direction::kSent, text);
    bytes += text;
    bytes += "\n";
  }
  SendRaw(bytes, deadline);
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
  bool read_once = false;
  for (;;) {
    if (auto msg = stream_.Next()) {
      if (DebugLogEnabled() || transcript_) {
        std::string text = DumpJson(*msg);
        LOG(kDebug, name_) << "<- " << text;
        if (transcript_) transcript_->Record(name_, Transcript::Direction::kReceived, text);
      }
      return msg;
    }
    if (eof_) throw ConnectionError(name_ + ": connection closed by peer");
    if (read_once && deadline.Expired()) return std::nullopt;
    read_once = true;
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
