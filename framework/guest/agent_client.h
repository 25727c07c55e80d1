// A client for the QEMU guest agent (qemu-ga) over its virtio-serial socket
// (the direct-QEMU backend's AgentLink).
//
// Same JSON framing as QMP, but the agent has no ids and no greeting: after
// connecting, or after any timeout (a late reply would otherwise be taken for
// the next command's), the client resynchronises with guest-sync-delimited:
// it sends 0xFF (resetting the agent's parser) and a random id, drops every
// byte up to the agent's 0xFF, and expects its id back. Execute() does that
// by itself when needed.
//
// File helpers read sysfs through guest-file-open/read/close (no guest-exec,
// no shell in the guest needed) and always close the handle.
//
// The guest is not trusted: every wait holds its deadline even while the
// agent keeps sending, a file is read up to kMaxFileBytes, a reply of the
// wrong shape is a ProtocolError naming the command and the field, and after
// any failure other than the agent's own error reply (AgentError) the next
// command resyncs first, so a reply left in the stream is never taken for a
// later command's.
//
//   AgentClient agent(std::move(fd), "qga", &transcript);
//   agent.Sync(Deadline::After(kBootTimeout));
//   std::string online = agent.ReadFile("/sys/devices/system/cpu/online");
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "guest/agent_link.h"
#include "qmp/json_channel.h"
#include "util/deadline.h"
#include "util/error.h"

namespace cpuhp {

class AgentClient final : public AgentLink {
 public:
  AgentClient(UniqueFd fd, std::string name, Transcript* transcript);

  // Resynchronises, retrying every kAgentSyncTimeout until the deadline (the
  // guest may still be booting: earlier attempts are answered late and
  // dropped). Throws TimeoutError, ConnectionError.
  void Sync(const Deadline& deadline);

  // Runs one command; returns its "return" (null for commands without one).
  // Throws AgentError, TimeoutError, ProtocolError, ConnectionError (after
  // any but AgentError the next call resyncs).
  nlohmann::json Execute(std::string_view command, const nlohmann::json& arguments = nullptr,
                         const Deadline& deadline = Deadline::After(kAgentTimeout)) override;

  void Ping(const Deadline& deadline = Deadline::After(kAgentTimeout)) override;
  std::vector<GuestVcpu> GetVcpus(const Deadline& deadline = Deadline::After(kAgentTimeout)) override;
  // Sets each listed vCPU online/offline through guest-set-vcpus. Throws
  // AgentError if the agent processed fewer entries than given (naming the first
  // one it did not).
  void SetVcpus(const std::vector<GuestVcpu>& vcpus,
                const Deadline& deadline = Deadline::After(kAgentTimeout)) override;
  void SetOnline(int cpu, bool online,
                 const Deadline& deadline = Deadline::After(kAgentTimeout)) override;

  // The whole content of a guest file. Throws AgentError if it cannot be opened.
  std::string ReadFile(const std::string& path,
                       const Deadline& deadline = Deadline::After(kAgentTimeout)) override;
  // The same, but nullopt when the file does not exist (ENOENT/ENODEV).
  std::optional<std::string> TryReadFile(const std::string& path,
                                         const Deadline& deadline = Deadline::After(kAgentTimeout)) override;
  // Reads several small files in three pipelined rounds (all opens, all
  // reads, all closes; the agent answers in order), about 3x faster than one
  // file at a time under TCG. Entry i is nullopt when paths[i] does not exist.
  // A file longer than one read chunk is finished with further reads.
  std::vector<std::optional<std::string>> TryReadFiles(
      const std::vector<std::string>& paths,
      const Deadline& deadline = Deadline::After(kAgentTimeout)) override;
  // Writes `content` to a guest file (e.g. a sysfs attribute) and flushes it, so
  // that a kernel refusal surfaces here as an AgentError.
  void WriteFile(const std::string& path, std::string_view content,
                 const Deadline& deadline = Deadline::After(kAgentTimeout)) override;

  const std::string& name() const override { return channel_.name(); }

 private:
  bool SyncOnce(const Deadline& deadline);
  // Opens `path`, calls use(handle), closes it (also when `use` throws).
  template <typename F>
  auto WithFile(const std::string& path, const char* mode, const Deadline& deadline, F&& use);
  // Appends `chunk` (a guest-file-read reply, or null) and further reads of
  // `path` to `content` until EOF. Throws ProtocolError past kMaxFileBytes.
  void ReadToEof(const std::string& path, int64_t handle, nlohmann::json chunk,
                 std::string* content, const Deadline& deadline);
  // Runs `exchange` (a command, or the reading of a reply's fields). Anything
  // it throws but an AgentError (the agent's own, in-step answer) means a
  // reply may be left unread or misread, so the next command resyncs.
  template <typename F>
  auto ResyncOnFailure(F&& exchange);
  std::vector<std::optional<std::string>> ReadFilesPipelined(const std::vector<std::string>& paths,
                                                             const Deadline& deadline);
  // guest-file-open's "return"; ProtocolError (naming `where`) unless an integer.
  int64_t HandleOf(const nlohmann::json& ret, const std::string& where);
  // "qga: reply to guest-file-open" for errors about `request`'s reply.
  std::string Where(const nlohmann::json& request) const;
  static constexpr int kReadChunk = 65536;
  // The reply to one command already sent: "return", or AgentError as a value.
  nlohmann::json ReceiveReply(const nlohmann::json& request, const Deadline& deadline);

  JsonChannel channel_;
  bool synced_ = false;
};

}  // namespace cpuhp
