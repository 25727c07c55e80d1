#include "guest/agent_client.h"

#include <climits>
#include <random>

#include "util/base64.h"
#include "util/log.h"

namespace cpuhp {
namespace {

using json = nlohmann::json;

std::string AgentErrorMessage(const std::string& cls, const std::string& desc,
                              const json& command) {
  return "guest agent command " + CommandName(command) + " failed: " + cls + ": " + desc +
         "\n  sent: " + DumpJsonShort(command, 1000);
}

// qemu-ga says what failed only in the description (its class is always
// GenericError). ESRCH: a /proc/PID file opened just before its process
// exited reads as "No such process"; the file is gone like a missing one.
bool IsMissingFile(const AgentError& e) {
  return e.desc().find("No such file or directory") != std::string::npos ||
         e.desc().find("No such device") != std::string::npos ||
         e.desc().find("No such process") != std::string::npos;
}

}  // namespace

AgentError::AgentError(std::string error_class, std::string desc, nlohmann::json command)
    : CommandError(std::move(error_class), std::move(desc), std::move(command), AgentErrorMessage) {}

AgentClient::AgentClient(UniqueFd fd, std::string name, Transcript* transcript)
    : channel_(std::move(fd), std::move(name), transcript) {}

std::string AgentClient::Where(const json& request) const {
  return name() + ": reply to " + CommandName(request);
}

template <typename F>
auto AgentClient::ResyncOnFailure(F&& exchange) {
  try {
    return exchange();
  } catch (const AgentError&) {
    throw;  // the agent's own answer: still in step
  } catch (...) {
    // Whatever was left unread (a reply after a malformed one, a late one,
    // the rest of a pipelined round) must not be taken for the next command's.
    synced_ = false;
    throw;
  }
}

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
    // A reply to an earlier attempt: wait for the next delimited one, but not
    // past the deadline however many come.
    channel_.stream().DiscardUntilDelimiter();
    if (deadline.Expired()) return false;
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
  return ResyncOnFailure([&] {
    channel_.Send(request, deadline);
    json reply = ReceiveReply(request, deadline);
    if (auto err = reply.find("error"); err != reply.end()) {
      PeerError e = ParsePeerError(*err, Where(request));
      throw AgentError(std::move(e.error_class), std::move(e.desc), request);
    }
    auto ret = reply.find("return");
    return ret == reply.end() ? json() : std::move(*ret);
  });
}

nlohmann::json AgentClient::ReceiveReply(const nlohmann::json& request, const Deadline& deadline) {
  for (;;) {
    auto msg = channel_.Receive(deadline);
    if (!msg) {
      synced_ = false;
      throw TimeoutError(name() + ": no reply to guest agent command " +
                         DumpJsonShort(request, 1000));
    }
    if (msg->contains("error") || msg->contains("return")) return std::move(*msg);
    if (DebugLogEnabled()) {
      LOG(kDebug, name()) << "ignoring unexpected message " << DumpJsonShort(*msg);
    }
    if (deadline.Expired()) {
      synced_ = false;
      throw TimeoutError(name() + ": no reply to guest agent command " +
                         DumpJsonShort(request, 1000) + " (other messages kept arriving)");
    }
  }
}

std::vector<std::optional<std::string>> AgentClient::TryReadFiles(
    const std::vector<std::string>& paths, const Deadline& deadline) {
  if (!synced_) Sync(deadline);
  // An AgentError comes after every reply was read; anything else may leave
  // replies to the rest of a round on their way.
  return ResyncOnFailure([&] { return ReadFilesPipelined(paths, deadline); });
}

std::vector<std::optional<std::string>> AgentClient::ReadFilesPipelined(
    const std::vector<std::string>& paths, const Deadline& deadline) {
  // Sends every request of a round, then collects the replies in order.
  auto round = [&](const std::vector<nlohmann::json>& requests) {
    channel_.SendBatch(requests, deadline);
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
      PeerError pe = ParsePeerError(*err, Where(opens[i]));
      AgentError e(std::move(pe.error_class), std::move(pe.desc), opens[i]);
      if (!IsMissingFile(e) && !failure) failure = e;
      continue;
    }
    index.push_back(i);
    handles.push_back(HandleOf(opened[i]["return"], Where(opens[i]) + " " + paths[i]));
  }
  std::vector<nlohmann::json> reads, closes;
  for (int64_t h : handles) {
    reads.push_back({{"execute", "guest-file-read"}, {"arguments", {{"handle", h}, {"count", kReadChunk}}}});
    closes.push_back({{"execute", "guest-file-close"}, {"arguments", {{"handle", h}}}});
  }
  auto chunks = round(reads);
  for (size_t k = 0; k < handles.size(); ++k) {
    const auto& reply = chunks[k];
    const std::string& path = paths[index[k]];
    try {
      if (auto err = reply.find("error"); err != reply.end()) {
        PeerError pe = ParsePeerError(*err, Where(reads[k]) + " " + path);
        throw AgentError(std::move(pe.error_class), std::move(pe.desc), reads[k]);
      }
      std::string content;
      ReadToEof(path, handles[k], reply["return"], &content, deadline);
      out[index[k]] = std::move(content);
    } catch (const AgentError& e) {
      // A sysfs file whose CPU went away between open and read reads as ENODEV.
      if (!IsMissingFile(e) && !failure) failure = e;
    }
  }
  round(closes);  // close errors change nothing we read
  if (failure) throw *failure;
  return out;
}

void AgentClient::Ping(const Deadline& deadline) { Execute("guest-ping", nullptr, deadline); }

std::vector<GuestVcpu> AgentClient::GetVcpus(const Deadline& deadline) {
  json ret = Execute("guest-get-vcpus", nullptr, deadline);
  return ResyncOnFailure([&] {
    std::string where = name() + ": reply to guest-get-vcpus";
    if (!ret.is_array()) throw FieldTypeError(where, "return", "an array", ret);
    std::vector<GuestVcpu> out;
    for (size_t i = 0; i < ret.size(); ++i) {
      const json& v = ret[i];
      std::string entry = "return[" + std::to_string(i) + "]";
      if (!v.is_object()) throw FieldTypeError(where, entry, "an object", v);
      entry += ".";
      const json& id =
          RequiredField(v, "logical-id", &json::is_number_unsigned, "a CPU number", where, entry);
      if (id.get<uint64_t>() > INT_MAX) {
        throw FieldTypeError(where, entry + "logical-id", "a CPU number up to INT_MAX", id);
      }
      const json& online = RequiredField(v, "online", &json::is_boolean, "a boolean", where, entry);
      const json* can_offline =
          OptionalField(v, "can-offline", &json::is_boolean, "a boolean", where, entry);
      out.push_back({id.get<int>(), online.get<bool>(), can_offline && can_offline->get<bool>()});
    }
    return out;
  });
}

void AgentClient::SetVcpus(const std::vector<GuestVcpu>& vcpus, const Deadline& deadline) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& v : vcpus) list.push_back({{"logical-id", v.logical_id}, {"online", v.online}});
  nlohmann::json request = {{"vcpus", list}};
  json done = Execute("guest-set-vcpus", request, deadline);
  size_t n = ResyncOnFailure([&] {
    if (!done.is_number_unsigned()) {
      throw FieldTypeError(name() + ": reply to guest-set-vcpus", "return",
                           "the number of entries processed", done);
    }
    return done.get<size_t>();
  });
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
  int64_t handle = HandleOf(Execute("guest-file-open", {{"path", path}, {"mode", mode}}, deadline),
                            name() + ": reply to guest-file-open " + path);
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

int64_t AgentClient::HandleOf(const json& ret, const std::string& where) {
  return ResyncOnFailure([&] {
    if (!ret.is_number_integer()) {
      throw FieldTypeError(where, "return", "an integer (a file handle)", ret);
    }
    return ret.get<int64_t>();
  });
}

void AgentClient::ReadToEof(const std::string& path, int64_t handle, json chunk,
                            std::string* content, const Deadline& deadline) {
  std::string where = name() + ": reply to guest-file-read " + path;
  for (;;) {
    if (!chunk.is_null()) {
      bool done = ResyncOnFailure([&] {
        if (!chunk.is_object()) throw FieldTypeError(where, "return", "an object", chunk);
        const json* b64 =
            OptionalField(chunk, "buf-b64", &json::is_string, "a string", where, "return.");
        const json* eof =
            OptionalField(chunk, "eof", &json::is_boolean, "a boolean", where, "return.");
        const json* count =
            OptionalField(chunk, "count", &json::is_number_integer, "an integer", where, "return.");
        if (b64) *content += Base64Decode(b64->get_ref<const std::string&>());
        if (content->size() > kMaxFileBytes) {
          throw ProtocolError(name() + ": guest file " + path + " is over the " +
                              std::to_string(kMaxFileBytes) +
                              " bytes cpuhp reads (AgentClient::kMaxFileBytes); " +
                              std::to_string(content->size()) + " bytes read so far");
        }
        return !eof || eof->get<bool>() || !count || count->get<int64_t>() == 0;
      });
      if (done) return;
    }
    // Each read is answered at once by an agent that never says eof: the
    // deadline must still hold.
    if (deadline.Expired()) {
      synced_ = false;
      throw TimeoutError(name() + ": guest file " + path +
                         " not read to its end by the deadline (" +
                         std::to_string(content->size()) + " bytes read)");
    }
    chunk = Execute("guest-file-read", {{"handle", handle}, {"count", kReadChunk}}, deadline);
  }
}

std::string AgentClient::ReadFile(const std::string& path, const Deadline& deadline) {
  return WithFile(path, "r", deadline, [&](int64_t handle) {
    std::string content;
    ReadToEof(path, handle, nullptr, &content, deadline);
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
