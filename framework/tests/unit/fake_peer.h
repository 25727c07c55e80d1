// A scripted peer on the other end of a real socketpair, for protocol edge
// cases (split messages, interleaved events, garbage, EOF) that a real QEMU
// will not produce on demand. The end-to-end tests use a real QEMU.
#pragma once

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <future>
#include <string>
#include <thread>

#include "util/error.h"
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

  // Write() that reports failure (the client closed its end, or stopped
  // reading for 5 s) instead of throwing.
  bool TryWrite(const std::string& bytes) {
    try {
      Write(bytes);
      return true;
    } catch (const Error&) {
      return false;
    }
  }
  // A peer that never pauses: writes `bytes` over and over until the client
  // closes its end or `stop` is set, then closes. What the client sends
  // meanwhile is read and dropped, so the client's writes never block.
  void Flood(const std::string& bytes, const std::atomic<bool>& stop) {
    std::thread drain([fd = peer_.get(), &stop] {
      char buf[4096];
      while (!stop) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) < 0) return;
        if (p.revents == 0) continue;
        if (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) == 0) return;
      }
    });
    while (!stop && TryWrite(bytes)) {
    }
    ::shutdown(peer_.get(), SHUT_RDWR);
    drain.join();
    Close();
  }

 private:
  UniqueFd client_;
  UniqueFd peer_;
  std::thread thread_;
};

// Runs `call` on its own thread and waits at most `bound` for it, so that a
// call that would hang on broken code fails the test instead. Sets `stop`
// afterwards (a Flood() then closes its end, which ends a call that is still
// running). Returns what the call threw, or null.
template <typename Call>
std::exception_ptr CallWithin(std::chrono::seconds bound, std::atomic<bool>& stop, Call call) {
  auto result = std::async(std::launch::async, [&]() -> std::exception_ptr {
    try {
      call();
      return nullptr;
    } catch (...) {
      return std::current_exception();
    }
  });
  bool returned = result.wait_for(bound) == std::future_status::ready;
  stop = true;
  std::exception_ptr thrown = result.get();
  if (!returned) ADD_FAILURE() << "the call did not return within " << bound.count() << " s";
  return thrown;
}

// Rethrows `e` if there is one: EXPECT_THROW(Rethrow(CallWithin(...)), TimeoutError).
inline void Rethrow(const std::exception_ptr& e) {
  if (e) std::rethrow_exception(e);
}

// The deadline a call gets against a Flood(), and the hard bound it must
// return within (generous: a loaded CI host is slow, but not 10x slow).
inline constexpr std::chrono::seconds kFloodDeadline{1};
inline constexpr std::chrono::seconds kFloodBound{10};

// call(deadline), with a kFloodDeadline deadline, against a peer that floods
// until `stop`: it must throw TimeoutError, and within kFloodBound.
template <typename Call>
void ExpectTimeoutUnderFlood(std::atomic<bool>& stop, Call call) {
  EXPECT_THROW(Rethrow(CallWithin(kFloodBound, stop,
                                  [&] { call(Deadline::AfterUnscaled(kFloodDeadline)); })),
               TimeoutError);
}

}  // namespace cpuhp::testing
