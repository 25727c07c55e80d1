#include "util/fd.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

}  // namespace cpuhp
