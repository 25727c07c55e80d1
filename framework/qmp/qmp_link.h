// What a user of QMP needs from a running VM's monitor, whatever carries it.
//
// The direct-QEMU backend's QmpClient speaks QMP over its own socket; a
// libvirt backend would send the same commands through
// virDomainQemuMonitorCommand and take events from
// virConnectDomainQemuMonitorEventRegister. Either way, every implementation
// guarantees:
// - Execute() returns the command's "return" value, or throws QmpError with
//   QEMU's class and description (TimeoutError, ConnectionError,
//   ProtocolError for the transport's own trouble);
// - events that arrive while nobody waits for them are buffered, bounded, and
//   handed to later waiters oldest first; a wait takes only the event it
//   matches, the others stay;
// - every wait holds its deadline, even while messages keep arriving.
//
//   QmpLink& qmp = vm.Qmp();
//   qmp.Execute("device_add", {{"driver", "qemu64-x86_64-cpu"}, {"id", "cpu1"}, ...});
//   qmp.WaitForEvent("ACPI_DEVICE_OST", MatchData({{"info", {{"device", "cpu1"}}}}), deadline);
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/deadline.h"
#include "util/error.h"

namespace cpuhp {

// A command the peer (QEMU or the guest agent) answered with
// {"error": {"class", "desc"}}: QmpError and AgentError, which differ only in
// their kind and in how their message names the peer.
class CommandError : public Error {
 public:
  const std::string& error_class() const { return class_; }
  const std::string& desc() const { return desc_; }
  const nlohmann::json& command() const { return command_; }

 protected:
  using Describe = std::string (*)(const std::string& error_class, const std::string& desc,
                                   const nlohmann::json& command);
  // The message is built by `describe` before the fields take their values.
  CommandError(std::string error_class, std::string desc, nlohmann::json command, Describe describe)
      : Error(describe(error_class, desc, command)),
        class_(std::move(error_class)),
        desc_(std::move(desc)),
        command_(std::move(command)) {}

 private:
  std::string class_;
  std::string desc_;
  nlohmann::json command_;
};

// QEMU answered a command with {"error": {"class": ..., "desc": ...}}.
class QmpError : public CommandError {
 public:
  QmpError(std::string error_class, std::string desc, nlohmann::json command);
  FailureKind kind() const override { return FailureKind::kQmp; }
};

// True when every key of `pattern` is in `value` with an equal (recursively
// matching, for objects) value: QEMU's harness matches events this way.
bool JsonMatches(const nlohmann::json& value, const nlohmann::json& pattern);

using EventPredicate = std::function<bool(const nlohmann::json& event)>;
// An EventPredicate matching events whose "data" contains `pattern`.
EventPredicate MatchData(nlohmann::json pattern);

class QmpLink {
 public:
  virtual ~QmpLink() = default;

  // Runs one command and returns its "return" value. Waits until the
  // deadline for the reply; throws QmpError if QEMU refused it, TimeoutError
  // if no reply came, ConnectionError if the monitor went away.
  virtual nlohmann::json Execute(std::string_view command,
                                 const nlohmann::json& arguments = nullptr,
                                 const Deadline& deadline = Deadline::After(kQmpTimeout)) = 0;

  // Waits for an event named `name` that `match` accepts (any if null), first
  // among those already buffered (oldest first), then as they arrive. The
  // returned event is removed from the buffer; others stay.
  // Throws TimeoutError (naming the event and the events seen meanwhile).
  virtual nlohmann::json WaitForEvent(std::string_view name, const EventPredicate& match,
                                      const Deadline& deadline) = 0;
  // The same, but nullopt on timeout.
  virtual std::optional<nlohmann::json> TryWaitForEvent(std::string_view name,
                                                        const EventPredicate& match,
                                                        const Deadline& deadline) = 0;
  // The first event (any name) that `match` accepts, buffered or arriving;
  // nullopt on timeout.
  virtual std::optional<nlohmann::json> TryWaitForAnyEvent(const EventPredicate& match,
                                                           const Deadline& deadline) = 0;
  // Buffers whatever has arrived, without waiting; bounded, so a flood cannot hold it.
  virtual void PollEvents() = 0;
  // Removes and returns all buffered events, oldest first.
  virtual std::vector<nlohmann::json> TakeEvents() = 0;

  // The monitor's name in logs and transcript.log ("qmp").
  virtual const std::string& name() const = 0;
};

}  // namespace cpuhp
