// The far end of a real socketpair that sends what the fuzzer chose, for the
// QMP and guest agent client targets.
//
// Deterministic when it can be: if the whole input fits in the socket buffer
// it is written before the client reads anything, so the client sees the
// same bytes in the same reads every time; only a larger input (a reproducer
// run by hand) is written from a thread. The peer then shuts down its
// sending side, so the client meets EOF (ConnectionError) instead of waiting
// for its deadline, and never reads what the client sends.
//
//   ScriptedPeer peer(input);
//   QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include "util/deadline.h"
#include "util/error.h"
#include "util/fd.h"

namespace cpuhp::fuzz {

// How long the peer may take to hand over an input that did not fit in the
// socket buffer; far above what a client reading a local socket needs.
constexpr std::chrono::seconds kPeerWriteTimeout{5};

class ScriptedPeer {
 public:
  explicit ScriptedPeer(std::string bytes) : bytes_(std::move(bytes)) {
    auto [client, peer] = SocketPair();
    client_ = std::move(client);
    peer_ = std::move(peer);
    size_t sent = 0;
    while (sent < bytes_.size()) {
      ssize_t n = ::send(peer_.get(), bytes_.data() + sent, bytes_.size() - sent,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<size_t>(n);
    }
    if (sent == bytes_.size()) {
      ::shutdown(peer_.get(), SHUT_WR);
      return;
    }
    writer_ = std::thread([this, sent] {
      try {
        WriteAll(peer_.get(), std::string_view(bytes_).substr(sent),
                 Deadline::AfterUnscaled(kPeerWriteTimeout));
      } catch (const Error&) {
        // The client gave up and closed its end: what it saw is the test.
      }
      ::shutdown(peer_.get(), SHUT_WR);
    });
  }
  ~ScriptedPeer() {
    if (writer_.joinable()) writer_.join();
  }
  ScriptedPeer(const ScriptedPeer&) = delete;
  ScriptedPeer& operator=(const ScriptedPeer&) = delete;

  UniqueFd TakeClientFd() { return std::move(client_); }

 private:
  std::string bytes_;
  UniqueFd client_;
  UniqueFd peer_;
  std::thread writer_;
};

}  // namespace cpuhp::fuzz
