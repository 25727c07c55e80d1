// The exception hierarchy cpuhp throws at its boundaries.
//
// Every error carries a message that can grow context as it travels up
// (which VM, which command, the serial log tail): catch by reference, call
// AddContext() and rethrow. "Not yet" is never an error: functions that may
// legitimately find nothing return std::optional or bool instead.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "util/exit_status.h"

namespace cpuhp {

// What kind of failure ended a step or a run: the `type` of result.json and
// JUnit, and what a scenario's `expect: {error: ...}` names. Each error type
// says its own kind (Error::kind()), so no caller needs a dynamic_cast ladder;
// the names live in one table (error.cc).
enum class FailureKind {
  kError,        // anything else (a bug in cpuhp, an unexpected exception)
  kSetup,        // the run could not start: bad kit, bad artifacts dir, boot failed
  kCancelled,    // interrupted by the user
  kCheck,        // an invariant failed: QEMU and the guest disagree
  kExpectation,  // a step's own expectation was not met
  kQmp,          // QEMU answered a command with an error
  kAgent,        // the guest agent answered a command with an error
  kTimeout,      // something awaited did not happen before its deadline
  kConnection,   // QEMU or the agent went away
  kProtocol,     // the peer sent something that is not the protocol
  kLaunch,       // QEMU could not be started or died before it was usable
  kSystem,       // a system call failed
  kMigration,    // a migration failed (QEMU's status, the destination's exit)
  kLibvirt,      // libvirt refused or failed a call (its code, domain and message)
};

// "check", "qmp", ...: stable, used in reports and scenarios.
std::string_view FailureKindName(FailureKind kind);
std::optional<FailureKind> FailureKindFromName(std::string_view name);

class Error : public std::exception {
 public:
  explicit Error(std::string message) : message_(std::move(message)) {}
  const char* what() const noexcept override { return message_.c_str(); }
  virtual FailureKind kind() const { return FailureKind::kError; }
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
  FailureKind kind() const override { return FailureKind::kTimeout; }
};

// The peer closed the connection (QEMU died, the agent went away).
class ConnectionError : public Error {
 public:
  using Error::Error;
  FailureKind kind() const override { return FailureKind::kConnection; }
};

// The peer sent something that is not the protocol.
class ProtocolError : public Error {
 public:
  using Error::Error;
  FailureKind kind() const override { return FailureKind::kProtocol; }
};

// A system call failed; the message names the call and the errno text.
class SystemError : public Error {
 public:
  SystemError(const std::string& what, int err);
  FailureKind kind() const override { return FailureKind::kSystem; }
  int err() const { return err_; }

 private:
  int err_;
};

// What a LaunchError knows of the failed start, as QEMU's Python
// VMLaunchFailure(exitcode, command, output) does: a caller branches on these,
// never on the message. Each is empty where it is not known (no process was
// started, no log was written).
struct LaunchDetails {
  std::vector<std::string> command = {};   // the argv that was run
  std::optional<ExitStatus> exit_status = {};  // how it ended (a SIGKILL when cpuhp gave up on it)
  std::string qemu_log_tail = {};          // the last lines of its stdout and stderr
  std::string serial_tail = {};            // the last lines of the guest's console
};

// QEMU could not be started, or died before it was usable. The message
// already says everything in details() that is worth reading.
class LaunchError : public Error {
 public:
  explicit LaunchError(std::string message, LaunchDetails details = {})
      : Error(std::move(message)), details_(std::move(details)) {}
  FailureKind kind() const override { return FailureKind::kLaunch; }
  const LaunchDetails& details() const { return details_; }

 private:
  LaunchDetails details_;
};

// A check found the guest and QEMU disagreeing, or a step's expectation unmet.
class CheckFailure : public Error {
 public:
  using Error::Error;
  FailureKind kind() const override { return FailureKind::kCheck; }
};

}  // namespace cpuhp
