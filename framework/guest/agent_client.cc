#include "guest/agent_client.h"

#include <random>

#include "util/base64.h"
#include "util/log.h"

namespace cpuhp {
namespace {

std::string AgentErrorMessage(const std::string& cls, const std::string& desc,
                              const nlohmann::json& command) {
  return "guest agent command " + command.value("execute", std::string("?")) +
         " failed: " + cls + ": " + desc + "\n  sent: " + command.dump();
}

bool IsMissingFile(const AgentError& e) {
  return e.desc().find("No such file or directory") != std::string::npos ||
         e.desc().find("No such device") != std::string::npos;
}

}  // namespace

AgentError::AgentError(std::string error_class, std::string desc, nlohmann::json command)
    : Error(AgentErrorMessage(error_class, desc, command)),
      class_(std::move(error_class)),
      desc_(std::move(desc)),
      command_(std::move(command)) {}

AgentClient::AgentClient(UniqueFd fd, std::string name, Transcript* transcript)
    : channel_(std::move(fd), std::move(name), transcript) {}

bool AgentClient::SyncOnce(const Deadline& deadline) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  // The agent's JSON parser takes ids up to int64; keep it positive and safe.
  int64_t id = static_cast<int64_t>(rng() >> 12);
  channel_.SendRaw("\xFF", deadline);
  channel_.Send({{"execute", "guest-sync-delimited"}, {"arguments", {{"id", id}}}}, deadline);
  channel_.stream().DiscardUntilDelimiter();
  for (;;) {
    auto msg = channel_.Receive(deadline);
    if (!msg) return false;
    auto ret = msg->find("return");
    if (ret != msg->end() && *ret == id) return true;
    // A reply to an earlier attempt: wait for the next delimited one.
    channel_.stream().DiscardUntilDelimiter();
  }
}

void AgentClient::Sync(const Deadline& deadline) {
  for (int attempt = 1;; ++attempt) {
    Deadline attempt_deadline = Deadline::After(kAgentSyncTimeout).Min(deadline);
    if (SyncOnce(attempt_deadline)) {
      synced_ = true;
      return;
    }
    if (deadline.Expired()) {
      throw TimeoutError(name() + ": guest agent did not answer guest-sync-delimited (" +
                         std::to_string(attempt) + " attempts)");
    }
    LOG(kDebug, name()) << "sync attempt " << attempt << " unanswered, retrying";
  }
}

nlohmann::json AgentClient::Execute(std::string_view command, const nlohmann::json& arguments,
                                    const Deadline& deadline) {
  if (!synced_) Sync(deadline);
  nlohmann::json request = {{"execute", command}};
  if (!arguments.is_null()) request["arguments"] = arguments;
  channel_.Send(request, deadline);
  nlohmann::json reply = ReceiveReply(request, deadline);
  if (auto err = reply.find("error"); err != reply.end()) {
    throw AgentError(err->value("class", "?"), err->value("desc", "?"), request);
  }
  return reply["return"];
}

nlohmann::json AgentClient::ReceiveReply(const nlohmann::json& request, const Deadline& deadline) {
  for (;;) {
    auto msg = channel_.Receive(deadline);
    if (!msg) {
      synced_ = false;
      throw TimeoutError(name() + ": no reply to guest agent command " + request.dump());
    }
    if (msg->contains("error") || msg->contains("return")) return *msg;
    LOG(kDebug, name()) << "ignoring unexpected message " << msg->dump();
  }
}

std::vector<std::optional<std::string>> AgentClient::TryReadFiles(
    const std::vector<std::string>& paths, const Deadline& deadline) {
  if (!synced_) Sync(deadline);
  // Sends every request of a round, then collects the replies in order.
  auto round = [&](const std::vector<nlohmann::json>& requests) {
    for (const auto& r : requests) channel_.Send(r, deadline);
    std::vector<nlohmann::json> replies;
    for (const auto& r : requests) replies.push_back(ReceiveReply(r, deadline));
    return replies;
  };
  std::vector<nlohmann::json> opens;
  for (const auto& p : paths) {
    opens.push_back({{"execute", "guest-file-open"}, {"arguments", {{"path", p}, {"mode", "r"}}}});
  }
  auto opened = round(opens);
  std::vector<std::optional<std::string>> out(paths.size());
  std::vector<size_t> index;  // paths[index[k]] has handle handles[k]
  std::vector<int64_t> handles;
  std::optional<AgentError> failure;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (auto err = opened[i].find("error"); err != opened[i].end()) {
      AgentError e(err->value("class", "?"), err->value("desc", "?"), opens[i]);
      if (!IsMissingFile(e) && !failure) failure = e;
      continue;
    }
    index.push_back(i);
    handles.push_back(opened[i]["return"].get<int64_t>());
  }
  std::vector<nlohmann::json> reads, closes;
  for (int64_t h : handles) {
    reads.push_back({{"execute", "guest-file-read"}, {"arguments", {{"handle", h}, {"count", kReadChunk}}}});
    closes.push_back({{"execute", "guest-file-close"}, {"arguments", {{"handle", h}}}});
  }
  auto chunks = round(reads);
  for (size_t k = 0; k < handles.size(); ++k) {
    const auto& reply = chunks[k];
    if (auto err = reply.find("error"); err != reply.end()) {
      AgentError e(err->value("class", "?"), err->value("desc", "?"), reads[k]);
      // A sysfs file whose CPU went away between open and read reads as ENODEV.
      if (!IsMissingFile(e) && !failure) failure = e;
      continue;
    }
    std::string content;
    ReadToEof(handles[k], reply["return"], &content, deadline);
    out[index[k]] = std::move(content);
  }
  round(closes);  // close errors change nothing we read
  if (failure) throw *failure;
  return out;
}

void AgentClient::Ping(const Deadline& deadline) { Execute("guest-ping", nullptr, deadline); }

std::vector<GuestVcpu> AgentClient::GetVcpus(const Deadline& deadline) {
  std::vector<GuestVcpu> out;
  for (const auto& v : Execute("guest-get-vcpus", nullptr, deadline)) {
    out.push_back({v.value("logical-id", -1), v.value("online", false),
                   v.value("can-offline", false)});
  }
  return out;
}

void AgentClient::SetVcpus(const std::vector<GuestVcpu>& vcpus, const Deadline& deadline) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& v : vcpus) list.push_back({{"logical-id", v.logical_id}, {"online", v.online}});
  nlohmann::json request = {{"vcpus", list}};
  auto done = Execute("guest-set-vcpus", request, deadline);
  size_t n = done.is_number() ? done.get<size_t>() : 0;
  if (n < vcpus.size()) {
    throw AgentError("Incomplete",
                     "guest-set-vcpus processed " + std::to_string(n) + " of " +
                         std::to_string(vcpus.size()) + " entries; cpu" +
                         std::to_string(vcpus[n].logical_id) + " was not set",
                     {{"execute", "guest-set-vcpus"}, {"arguments", request}});
  }
}

void AgentClient::SetOnline(int cpu, bool online, const Deadline& deadline) {
  SetVcpus({{cpu, online, true}}, deadline);
}

template <typename F>
auto AgentClient::WithFile(const std::string& path, const char* mode, const Deadline& deadline,
                           F&& use) {
  int64_t handle =
      Execute("guest-file-open", {{"path", path}, {"mode", mode}}, deadline).get<int64_t>();
  try {
    auto result = use(handle);
    Execute("guest-file-close", {{"handle", handle}}, deadline);
    return result;
  } catch (...) {
    try {
      Execute("guest-file-close", {{"handle", handle}}, deadline);
    } catch (...) {
    }
    throw;
  }
}

void AgentClient::ReadToEof(int64_t handle, nlohmann::json chunk, std::string* content,
                            const Deadline& deadline) {
  for (;;) {
    if (!chunk.is_null()) {
      *content += Base64Decode(chunk.value("buf-b64", ""));
      if (chunk.value("eof", true) || chunk.value("count", 0) == 0) return;
    }
    chunk = Execute("guest-file-read", {{"handle", handle}, {"count", kReadChunk}}, deadline);
  }
}

std::string AgentClient::ReadFile(const std::string& path, const Deadline& deadline) {
  return WithFile(path, "r", deadline, [&](int64_t handle) {
    std::string content;
    ReadToEof(handle, nullptr, &content, deadline);
    return content;
  });
}

std::optional<std::string> AgentClient::TryReadFile(const std::string& path,
                                                    const Deadline& deadline) {
  try {
    return ReadFile(path, deadline);
  } catch (const AgentError& e) {
    if (IsMissingFile(e)) return std::nullopt;
    throw;
  }
}

void AgentClient::WriteFile(const std::string& path, std::string_view content,
                            const Deadline& deadline) {
  WithFile(path, "w", deadline, [&](int64_t handle) {
    Execute("guest-file-write", {{"handle", handle}, {"buf-b64", Base64Encode(content)}},
            deadline);
    return Execute("guest-file-flush", {{"handle", handle}}, deadline);
  });
}

}  // namespace cpuhp
