#include "qmp/qmp_client.h"

#include "util/log.h"

namespace cpuhp {
namespace {

constexpr size_t kMaxBufferedEvents = 10000;

std::string ErrorMessage(const std::string& cls, const std::string& desc,
                         const nlohmann::json& command) {
  return "QMP command " + command.value("execute", std::string("?")) + " failed: " + cls + ": " +
         desc + "\n  sent: " + command.dump();
}

}  // namespace

QmpError::QmpError(std::string error_class, std::string desc, nlohmann::json command)
    : Error(ErrorMessage(error_class, desc, command)),
      class_(std::move(error_class)),
      desc_(std::move(desc)),
      command_(std::move(command)) {}

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
    throw ProtocolError(name() + ": expected the QMP greeting, got " + greeting->dump());
  }
  greeting_ = std::move(*greeting);
  Execute("qmp_capabilities", nullptr, deadline);
  return greeting_;
}

std::optional<nlohmann::json> QmpClient::ReadOne(const Deadline& deadline) {
  auto msg = channel_.Receive(deadline);
  if (msg && msg->contains("event")) {
    if (events_.size() >= kMaxBufferedEvents) events_.pop_front();
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
  try {
    channel_.Send(request, deadline);
    for (;;) {
      auto msg = ReadOne(deadline);
      if (!msg) {
        throw TimeoutError(name() + ": no reply to " + std::string(command) + " within the deadline");
      }
      if (msg->contains("event")) continue;
      auto it = msg->find("id");
      if (it == msg->end() || *it != id) {
        // A reply to a command whose wait timed out earlier.
        LOG(kDebug, name()) << "dropping stale reply " << msg->dump();
        continue;
      }
      if (auto err = msg->find("error"); err != msg->end()) {
        nlohmann::json sent = request;
        sent.erase("id");
        throw QmpError(err->value("class", "?"), err->value("desc", "?"), sent);
      }
      auto ret = msg->find("return");
      return ret == msg->end() ? nlohmann::json::object() : *ret;
    }
  } catch (QmpError&) {
    throw;
  } catch (Error& e) {
    e.AddContext("while running QMP command " + request.dump());
    throw;
  }
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
      if (auto ev = TakeBuffered(match)) return ev;
    } else {
      LOG(kDebug, name()) << "dropping stale reply " << msg->dump();
    }
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
  for (const auto& ev : events_) seen += "\n    " + ev.dump();
  throw TimeoutError(this->name() + ": timed out waiting for event " + std::string(name) +
                     (seen.empty() ? " (no other events arrived)" : "; events buffered:" + seen));
}

void QmpClient::PollEvents() {
  while (ReadOne(Deadline::AfterUnscaled(Clock::duration::zero()))) {
  }
}

std::vector<nlohmann::json> QmpClient::TakeEvents() {
  PollEvents();
  std::vector<nlohmann::json> out(events_.begin(), events_.end());
  events_.clear();
  return out;
}

}  // namespace cpuhp
