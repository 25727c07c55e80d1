// A QMP client: the QEMU Machine Protocol over one socket (the direct-QEMU
// backend's QmpLink).
//
// Speaks the protocol only; the Machine owns the process. Commands carry an
// id; events that arrive while a command waits (or while nobody waits) are
// buffered and handed to later WaitForEvent() callers, as QEMU's Python
// harness does. Errors from QEMU come back as QmpError with QEMU's class and
// description and the command that was sent.
//
// The peer is not trusted: every wait holds its deadline even while messages
// keep arriving, a reply or greeting of the wrong shape is a ProtocolError
// naming the command and the field, and at most kMaxBufferedEvents events are
// kept (the oldest go first, counted in dropped_events()).
//
//   QmpClient qmp(ConnectUnix(path), "qmp", &transcript);
//   qmp.Handshake(Deadline::After(kQmpTimeout));
//   qmp.Execute("device_add", {{"driver", "qemu64-x86_64-cpu"}, {"id", "cpu1"}, ...});
//   qmp.WaitForEvent("ACPI_DEVICE_OST", MatchData({{"info", {{"device", "cpu1"}}}}), deadline);
#pragma once

#include <deque>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "qmp/json_channel.h"
#include "qmp/qmp_link.h"
#include "util/deadline.h"
#include "util/error.h"

namespace cpuhp {

class QmpClient final : public QmpLink {
 public:
  // Events kept for later waiters. A run sees a few hundred (one or two per
  // hotplug step); 10000 is far above that and bounds what a flooding QEMU
  // costs. Past it the oldest event is dropped.
  static constexpr size_t kMaxBufferedEvents = 10000;
  // Buffered events listed in a WaitForEvent timeout message (the newest).
  static constexpr size_t kMaxEventsInError = 20;

  QmpClient(UniqueFd fd, std::string name, Transcript* transcript);

  // Reads the greeting and sends qmp_capabilities. Returns the greeting.
  // Throws TimeoutError, ConnectionError, ProtocolError, QmpError.
  const nlohmann::json& Handshake(const Deadline& deadline);
  const nlohmann::json& greeting() const { return greeting_; }

  // Runs one command and returns its "return" value. Waits until the
  // deadline for the reply; throws QmpError if QEMU refused it, TimeoutError
  // if no reply came, ConnectionError if QEMU closed the socket.
  nlohmann::json Execute(std::string_view command, const nlohmann::json& arguments = nullptr,
                         const Deadline& deadline = Deadline::After(kQmpTimeout)) override;

  // Waits for an event named `name` that `match` accepts (any if null), first
  // among those already buffered (oldest first), then as they arrive. The
  // returned event is removed from the buffer; others stay.
  // Throws TimeoutError (naming the event and the events seen meanwhile).
  nlohmann::json WaitForEvent(std::string_view name, const EventPredicate& match,
                              const Deadline& deadline) override;
  // The same, but nullopt on timeout.
  std::optional<nlohmann::json> TryWaitForEvent(std::string_view name,
                                                const EventPredicate& match,
                                                const Deadline& deadline) override;
  // The first event (any name) that `match` accepts, buffered or arriving;
  // nullopt on timeout.
  std::optional<nlohmann::json> TryWaitForAnyEvent(const EventPredicate& match,
                                                   const Deadline& deadline) override;
  // Reads whatever has arrived without waiting, buffering events; at most
  // kMaxBufferedEvents messages (more would only push out the first ones read),
  // so a flood cannot hold it.
  void PollEvents() override;
  // Removes and returns all buffered events.
  std::vector<nlohmann::json> TakeEvents() override;
  const std::deque<nlohmann::json>& events() const { return events_; }
  // Events dropped so far because the buffer was full.
  size_t dropped_events() const { return dropped_events_; }

  // After QEMU closed the connection (or exited): reads what it had sent
  // (buffering the events) and says why it stopped, from its SHUTDOWN event;
  // "" if none. Never waits: on a live QEMU it reads only what is there.
  std::string LastWordsAfterClose();

  const std::string& name() const override { return channel_.name(); }
  JsonChannel& channel() { return channel_; }

 private:
  std::optional<nlohmann::json> TakeBuffered(const EventPredicate& match);
  // Reads one message; buffers it if it is an event. Returns it, or nullopt on timeout.
  std::optional<nlohmann::json> ReadOne(const Deadline& deadline);

  JsonChannel channel_;
  nlohmann::json greeting_;
  std::deque<nlohmann::json> events_;
  size_t dropped_events_ = 0;
  unsigned long next_id_ = 1;
};

}  // namespace cpuhp
