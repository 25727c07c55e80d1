#include "util/fd.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "util/error.h"

namespace cpuhp {

void UniqueFd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

short PollOne(int fd, short events, const Deadline& deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, deadline.PollTimeoutMs());
    if (rc > 0) return p.revents;
    if (rc == 0) return 0;
    if (errno != EINTR) throw SystemError("poll", errno);
  }
}

namespace {
sockaddr_un UnixAddress(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string& s = path.native();
  if (s.size() >= sizeof addr.sun_path) {
    throw Error("UNIX socket path too long (" + std::to_string(s.size()) + " bytes, max " +
                std::to_string(sizeof addr.sun_path - 1) + "): " + s);
  }
  std::memcpy(addr.sun_path, s.c_str(), s.size() + 1);
  return addr;
}
}  // namespace

UniqueFd ListenUnix(const std::filesystem::path& path) {
  sockaddr_un addr = UnixAddress(path);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw SystemError("socket", errno);
  ::unlink(path.c_str());
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw SystemError("bind " + path.string(), errno);
  }
  if (::listen(fd.get(), 4) != 0) throw SystemError("listen " + path.string(), errno);
  return fd;
}

UniqueFd AcceptWithDeadline(int listen_fd, const Deadline& deadline) {
  if (PollOne(listen_fd, POLLIN, deadline) == 0) return UniqueFd();
  for (;;) {
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) return UniqueFd(fd);
    if (errno != EINTR) throw SystemError("accept", errno);
  }
}

UniqueFd ConnectUnix(const std::filesystem::path& path) {
  sockaddr_un addr = UnixAddress(path);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw SystemError("socket", errno);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw SystemError("connect " + path.string(), errno);
  }
  return fd;
}

std::pair<UniqueFd, UniqueFd> SocketPair() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    throw SystemError("socketpair", errno);
  }
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

void WriteAll(int fd, std::string_view data, const Deadline& deadline) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (PollOne(fd, POLLOUT, deadline) == 0) throw TimeoutError("timed out writing to socket");
      continue;
    }
    if (n < 0 && (errno == EPIPE || errno == ECONNRESET)) {
      throw ConnectionError("peer closed the connection while we were writing");
    }
    throw SystemError("send", errno);
  }
}

std::string ReadFileToString(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw SystemError("open " + path.string(), errno);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

namespace {
// One line of a tail: without its '\r', cut to kTailMaxLineBytes, and marked
// when cut or when its start lay before the window read.
void AppendTailLine(std::string& out, std::string_view line, bool cut) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > kTailMaxLineBytes) {
    line = line.substr(0, kTailMaxLineBytes);
    cut = true;
  }
  out.append(line);
  if (cut) out.append(kTailCutMarker);
  out += '\n';
}
}  // namespace

std::string TailOfFile(const std::filesystem::path& path, int lines) {
  if (lines <= 0) return "";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return "";
  const off_t size = ::lseek(fd.get(), 0, SEEK_END);
  if (size <= 0) return "";
  const off_t start = size - static_cast<off_t>(std::min<uint64_t>(size, kTailMaxBytes));
  // One byte before the window says whether its first line starts there.
  const off_t from = start > 0 ? start - 1 : 0;
  std::string buf(static_cast<size_t>(size - from), '\0');
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = ::pread(fd.get(), buf.data() + got, buf.size() - got, from + static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the file shrank, or an error: the tail of what was read
    got += static_cast<size_t>(n);
  }
  buf.resize(got);
  std::string_view text(buf);
  bool first_cut = false;
  if (start > 0 && !text.empty()) {
    first_cut = text.front() != '\n';
    text.remove_prefix(1);
  }
  std::vector<std::string_view> all;
  while (!text.empty()) {
    size_t end = text.find('\n');
    all.push_back(text.substr(0, end));
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
  }
  const size_t first = all.size() > static_cast<size_t>(lines) ? all.size() - static_cast<size_t>(lines) : 0;
  std::string out;
  for (size_t i = first; i < all.size(); ++i) AppendTailLine(out, all[i], first_cut && i == 0);
  return out;
}

}  // namespace cpuhp
