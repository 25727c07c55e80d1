#include "qmp/qmp_client.h"

#include "util/log.h"
#include "util/text.h"

namespace cpuhp {
namespace {

std::string ErrorMessage(const std::string& cls, const std::string& desc,
                         const nlohmann::json& command) {
  return "QMP command " + CommandName(command) + " failed: " + cls + ": " + desc +
         "\n  sent: " + DumpJson(command);
}

}  // namespace

QmpError::QmpError(std::string error_class, std::string desc, nlohmann::json command)
    : CommandError(std::move(error_class), std::move(desc), std::move(command), ErrorMessage) {}

bool JsonMatches(const nlohmann::json& value, const nlohmann::json& pattern) {
  if (pattern.is_object()) {
    if (!value.is_object()) return false;
    for (const auto& [key, sub] : pattern.items()) {
      auto it = value.find(key);
      if (it == value.end() || !JsonMatches(*it, sub)) return false;
    }
    return true;
  }
  return value == pattern;
}

EventPredicate MatchData(nlohmann::json pattern) {
  return [pattern = std::move(pattern)](const nlohmann::json& event) {
    auto it = event.find("data");
    return it != event.end() && JsonMatches(*it, pattern);
  };
}

QmpClient::QmpClient(UniqueFd fd, std::string name, Transcript* transcript)
    : channel_(std::move(fd), std::move(name), transcript) {}

const nlohmann::json& QmpClient::Handshake(const Deadline& deadline) {
  auto greeting = channel_.Receive(deadline);
  if (!greeting) throw TimeoutError(name() + ": no QMP greeting from QEMU");
  if (!greeting->contains("QMP")) {
    throw ProtocolError(name() + ": expected the QMP greeting, got " + DumpJsonShort(*greeting));
  }
  std::string where = name() + ": QMP greeting";
  using json = nlohmann::json;
  const json& qmp = RequiredField(*greeting, "QMP", &json::is_object, "an object", where);
  const json& version = RequiredField(qmp, "version", &json::is_object, "an object", where, "QMP.");
  RequiredField(version, "qemu", &json::is_object, "an object", where, "QMP.version.");
  RequiredField(qmp, "capabilities", &json::is_array, "an array", where, "QMP.");
  greeting_ = std::move(*greeting);
  Execute("qmp_capabilities", nullptr, deadline);
  return greeting_;
}

std::optional<nlohmann::json> QmpClient::ReadOne(const Deadline& deadline) {
  auto msg = channel_.Receive(deadline);
  if (!msg) return msg;
  if (auto ev = msg->find("event"); ev != msg->end()) {
    if (!ev->is_string()) throw FieldTypeError(name() + ": event", "event", "a string", *ev);
    if (events_.size() >= kMaxBufferedEvents) {
      events_.pop_front();
      ++dropped_events_;
    }
    events_.push_back(*msg);
  }
  return msg;
}

nlohmann::json QmpClient::Execute(std::string_view command, const nlohmann::json& arguments,
                                  const Deadline& deadline) {
  std::string id = "cpuhp-" + std::to_string(next_id_++);
  nlohmann::json request = {{"execute", command}};
  if (!arguments.is_null()) request["arguments"] = arguments;
  request["id"] = id;
  std::string where = name() + ": reply to " + std::string(command);
  try {
    channel_.Send(request, deadline);
    for (;;) {
      auto msg = ReadOne(deadline);
      if (!msg) {
        throw TimeoutError(name() + ": no reply to " + std::string(command) + " within the deadline");
      }
      if (!msg->contains("event")) {
        auto it = msg->find("id");
        if (it != msg->end() && !it->is_string()) {
          throw FieldTypeError(where, "id", "a string (cpuhp sends only string ids)", *it);
        }
        if (it != msg->end() && *it == id) {
          if (auto err = msg->find("error"); err != msg->end()) {
            PeerError e = ParsePeerError(*err, where);
            nlohmann::json sent = request;
            sent.erase("id");
            throw QmpError(std::move(e.error_class), std::move(e.desc), std::move(sent));
          }
          auto ret = msg->find("return");
          return ret == msg->end() ? nlohmann::json::object() : std::move(*ret);
        }
        // A reply to a command whose wait timed out earlier.
        if (DebugLogEnabled()) {
          LOG(kDebug, name()) << "dropping stale reply " << DumpJsonShort(*msg);
        }
      }
      // Checked here too, not only when Receive() finds nothing: a peer that
      // never pauses must not hold the call past its deadline.
      if (deadline.Expired()) {
        throw TimeoutError(name() + ": no reply to " + std::string(command) +
                           " within the deadline (other messages kept arriving)");
      }
    }
  } catch (QmpError&) {
    throw;
  } catch (Error& e) {
    e.AddContext("while running QMP command " + DumpJsonShort(request, 1000));
    if (e.kind() == FailureKind::kConnection) {
      if (std::string last = LastWordsAfterClose(); !last.empty()) e.AddContext(last);
    }
    throw;
  }
}

namespace {

// What a SHUTDOWN event's reason means for a cpuhp VM (QEMU runs with
// -no-reboot, so a guest reset ends QEMU too).
std::string ExplainShutdown(const std::string& reason) {
  if (reason == "guest-reset") {
    return "the guest reset itself (a triple fault or a reboot; -no-reboot makes QEMU exit)";
  }
  if (reason == "guest-shutdown") return "the guest powered itself off";
  if (reason == "guest-panic") return "the guest kernel panicked";
  if (reason == "host-signal") return "QEMU was sent a signal";
  if (reason == "host-qmp-quit") return "a QMP quit";
  return "";
}

}  // namespace

std::string QmpClient::LastWordsAfterClose() {
  // QEMU closed the socket; what it sent before (its SHUTDOWN event says
  // why it stopped) is still there to read, and only that: never wait.
  try {
    for (size_t i = 0; i < kMaxBufferedEvents; ++i) {
      if (!ReadOne(Deadline::AfterUnscaled({}))) break;
    }
  } catch (const Error&) {
    // The end of what QEMU sent.
  }
  // ReadOne buffers every event, including one read before the close.
  std::optional<std::string> reason;
  for (auto it = events_.rbegin(); it != events_.rend() && !reason; ++it) {
    if ((*it)["event"] != "SHUTDOWN") continue;
    reason = "";
    if (auto d = it->find("data"); d != it->end() && d->is_object()) {
      if (auto r = d->find("reason"); r != d->end() && r->is_string()) reason = r->get<std::string>();
    }
  }
  if (!reason) return "";
  std::string why = ExplainShutdown(*reason);
  return "QEMU's last event before it closed QMP: SHUTDOWN, reason \"" + TerminalSafe(reason->substr(0, 64)) +
         "\"" + (why.empty() ? "" : ": " + why);
}

std::optional<nlohmann::json> QmpClient::TakeBuffered(const EventPredicate& match) {
  for (auto it = events_.begin(); it != events_.end(); ++it) {
    if (match(*it)) {
      nlohmann::json ev = std::move(*it);
      events_.erase(it);
      return ev;
    }
  }
  return std::nullopt;
}

std::optional<nlohmann::json> QmpClient::TryWaitForAnyEvent(const EventPredicate& match,
                                                            const Deadline& deadline) {
  if (auto ev = TakeBuffered(match)) return ev;
  for (;;) {
    auto msg = ReadOne(deadline);
    if (!msg) return std::nullopt;
    if (msg->contains("event")) {
      // The older buffered events were tried above; only this one, at the back, is new.
      if (match(events_.back())) {
        nlohmann::json ev = std::move(events_.back());
        events_.pop_back();
        return ev;
      }
    } else if (DebugLogEnabled()) {
      LOG(kDebug, name()) << "dropping stale reply " << DumpJsonShort(*msg);
    }
    if (deadline.Expired()) return std::nullopt;
  }
}

std::optional<nlohmann::json> QmpClient::TryWaitForEvent(std::string_view name,
                                                         const EventPredicate& match,
                                                         const Deadline& deadline) {
  return TryWaitForAnyEvent(
      [&](const nlohmann::json& ev) { return ev["event"] == name && (!match || match(ev)); },
      deadline);
}

nlohmann::json QmpClient::WaitForEvent(std::string_view name, const EventPredicate& match,
                                       const Deadline& deadline) {
  if (auto ev = TryWaitForEvent(name, match, deadline)) return *ev;
  std::string seen;
  size_t first = events_.size() > kMaxEventsInError ? events_.size() - kMaxEventsInError : 0;
  if (first > 0) seen += "\n    (" + std::to_string(first) + " older ones not shown)";
  for (size_t i = first; i < events_.size(); ++i) seen += "\n    " + DumpJsonShort(events_[i]);
  if (dropped_events_ > 0) {
    seen += "\n    (" + std::to_string(dropped_events_) + " events dropped: more than " +
            std::to_string(kMaxBufferedEvents) + " were buffered)";
  }
  throw TimeoutError(this->name() + ": timed out waiting for event " + std::string(name) +
                     (seen.empty() ? " (no other events arrived)" : "; events buffered:" + seen));
}

void QmpClient::PollEvents() {
  const Deadline now = Deadline::AfterUnscaled(Clock::duration::zero());
  for (size_t i = 0; i < kMaxBufferedEvents && ReadOne(now); ++i) {
  }
}

std::vector<nlohmann::json> QmpClient::TakeEvents() {
  PollEvents();
  std::vector<nlohmann::json> out(events_.begin(), events_.end());
  events_.clear();
  return out;
}

}  // namespace cpuhp
