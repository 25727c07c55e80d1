// What a user of the guest agent needs from a running VM, whatever carries it.
//
// The direct-QEMU backend's AgentClient speaks to qemu-ga over its own
// virtio-serial socket; a libvirt backend would go through
// virDomainQemuAgentCommand (sequential, so TryReadFiles loses its
// pipelining there but not its meaning). Every implementation guarantees:
// - Execute() returns the command's "return" (null for commands without one)
//   or throws AgentError with the agent's class and description
//   (TimeoutError, ConnectionError, ProtocolError for the transport's own
//   trouble), and a reply left over from a failed command is never taken for
//   a later command's;
// - the guest is untrusted: every wait holds its deadline, and a file is read
//   up to kMaxFileBytes;
// - the file helpers use guest-file-* only (no shell in the guest) and close
//   every handle they open.
//
//   AgentLink& agent = vm.Agent();
//   std::string online = agent.ReadFile("/sys/devices/system/cpu/online");
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qmp/qmp_link.h"
#include "util/deadline.h"
#include "util/error.h"

namespace cpuhp {

// The agent answered {"error": {"class", "desc"}}.
class AgentError : public CommandError {
 public:
  AgentError(std::string error_class, std::string desc, nlohmann::json command);
  FailureKind kind() const override { return FailureKind::kAgent; }
};

// One entry of guest-get-vcpus.
struct GuestVcpu {
  int logical_id = -1;
  bool online = false;
  bool can_offline = false;
  bool operator==(const GuestVcpu&) const = default;
};

class AgentLink {
 public:
  // Largest guest file ReadFile/TryReadFiles assemble. /proc/cpuinfo is the
  // biggest file cpuhp reads: ~1.5 KiB per vCPU, so ~6 MiB at QEMU's 4096
  // vCPUs; more than 16 MiB is not a file cpuhp asked for.
  static constexpr size_t kMaxFileBytes = size_t{16} << 20;

  virtual ~AgentLink() = default;

  // Runs one command; returns its "return" (null for commands without one).
  // Throws AgentError, TimeoutError, ProtocolError, ConnectionError.
  virtual nlohmann::json Execute(std::string_view command,
                                 const nlohmann::json& arguments = nullptr,
                                 const Deadline& deadline = Deadline::After(kAgentTimeout)) = 0;

  virtual void Ping(const Deadline& deadline = Deadline::After(kAgentTimeout)) = 0;
  virtual std::vector<GuestVcpu> GetVcpus(
      const Deadline& deadline = Deadline::After(kAgentTimeout)) = 0;
  // Sets each listed vCPU online/offline through guest-set-vcpus. Throws
  // AgentError if the agent processed fewer entries than given (naming the first
  // one it did not).
  virtual void SetVcpus(const std::vector<GuestVcpu>& vcpus,
                        const Deadline& deadline = Deadline::After(kAgentTimeout)) = 0;
  virtual void SetOnline(int cpu, bool online,
                         const Deadline& deadline = Deadline::After(kAgentTimeout)) = 0;

  // The whole content of a guest file. Throws AgentError if it cannot be opened.
  virtual std::string ReadFile(const std::string& path,
                               const Deadline& deadline = Deadline::After(kAgentTimeout)) = 0;
  // The same, but nullopt when the file does not exist (ENOENT/ENODEV).
  virtual std::optional<std::string> TryReadFile(
      const std::string& path, const Deadline& deadline = Deadline::After(kAgentTimeout)) = 0;
  // Several small files; entry i is nullopt when paths[i] does not exist.
  virtual std::vector<std::optional<std::string>> TryReadFiles(
      const std::vector<std::string>& paths,
      const Deadline& deadline = Deadline::After(kAgentTimeout)) = 0;
  // Writes `content` to a guest file (e.g. a sysfs attribute) and flushes it, so
  // that a kernel refusal surfaces here as an AgentError.
  virtual void WriteFile(const std::string& path, std::string_view content,
                         const Deadline& deadline = Deadline::After(kAgentTimeout)) = 0;

  // The agent's name in logs and transcript.log ("qga").
  virtual const std::string& name() const = 0;
};

}  // namespace cpuhp
