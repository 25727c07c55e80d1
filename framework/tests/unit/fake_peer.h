// A scripted peer on the other end of a real socketpair, for protocol edge
// cases (split messages, interleaved events, garbage, EOF) that a real QEMU
// will not produce on demand. The end-to-end tests use a real QEMU.
#pragma once

#include <sys/socket.h>

#include <functional>
#include <string>
#include <thread>

#include "util/fd.h"

namespace cpuhp::testing {

class FakePeer {
 public:
  // Runs `script` on a thread with the peer's end of the pair.
  explicit FakePeer(std::function<void(FakePeer&)> script) {
    auto [a, b] = SocketPair();
    client_ = std::move(a);
    peer_ = std::move(b);
    thread_ = std::thread([this, script = std::move(script)] { script(*this); });
  }
  ~FakePeer() {
    if (thread_.joinable()) thread_.join();
  }

  UniqueFd TakeClientFd() { return std::move(client_); }
  void Write(const std::string& bytes) {
    WriteAll(peer_.get(), bytes, Deadline::After(std::chrono::seconds(5)));
  }
  // Reads one line (up to '\n'); "" on EOF.
  std::string ReadLine() {
    std::string line;
    char c;
    while (::recv(peer_.get(), &c, 1, 0) == 1) {
      if (c == '\n') return line;
      line += c;
    }
    return line;
  }
  void Close() { peer_.reset(); }

 private:
  UniqueFd client_;
  UniqueFd peer_;
  std::thread thread_;
};

}  // namespace cpuhp::testing
