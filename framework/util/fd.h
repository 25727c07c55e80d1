// An owned file descriptor, and the small socket helpers built on it.
#pragma once

#include <filesystem>
#include <string_view>
#include <utility>

#include "util/deadline.h"

namespace cpuhp {

// Owns one fd; closes it on destruction. Move-only.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

// Polls one fd for `events` until the deadline. Returns the revents, or 0 on
// timeout. Retries on EINTR.
short PollOne(int fd, short events, const Deadline& deadline);

// A listening UNIX stream socket at `path` (an existing socket file there is
// replaced). Throws SystemError naming the path.
UniqueFd ListenUnix(const std::filesystem::path& path);
// Accepts one connection, waiting until the deadline; nullopt-like empty fd on timeout.
UniqueFd AcceptWithDeadline(int listen_fd, const Deadline& deadline);
// Connects to a UNIX stream socket. Throws SystemError naming the path.
UniqueFd ConnectUnix(const std::filesystem::path& path);
// A pair of connected UNIX stream sockets (both close-on-exec).
std::pair<UniqueFd, UniqueFd> SocketPair();

// Writes all of `data`, waiting for POLLOUT until the deadline. Throws
// TimeoutError, ConnectionError (EPIPE) or SystemError.
void WriteAll(int fd, std::string_view data, const Deadline& deadline);

}  // namespace cpuhp
