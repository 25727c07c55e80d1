// The exception hierarchy cpuhp throws at its boundaries.
//
// Every error carries a message that can grow context as it travels up
// (which VM, which command, the serial log tail): catch by reference, call
// AddContext() and rethrow. "Not yet" is never an error: functions that may
// legitimately find nothing return std::optional or bool instead.
#pragma once

#include <stdexcept>
#include <string>

namespace cpuhp {

class Error : public std::exception {
 public:
  explicit Error(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }
  // Appends "\n  <context>" to the message.
  void AddContext(const std::string& context);
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

// Something awaited did not happen before its deadline. Says what was awaited
// and, where known, the last value seen.
class TimeoutError : public Error {
 public:
  using Error::Error;
};

// The peer closed the connection (QEMU died, the agent went away).
class ConnectionError : public Error {
 public:
  using Error::Error;
};

// The peer sent something that is not the protocol.
class ProtocolError : public Error {
 public:
  using Error::Error;
};

// A system call failed; the message names the call and the errno text.
class SystemError : public Error {
 public:
  SystemError(const std::string& what, int err);
  int err() const { return err_; }

 private:
  int err_;
};

// QEMU could not be started, or died before it was usable.
class LaunchError : public Error {
 public:
  using Error::Error;
};

// A check found the guest and QEMU disagreeing, or a step's expectation unmet.
class CheckFailure : public Error {
 public:
  using Error::Error;
};

}  // namespace cpuhp
