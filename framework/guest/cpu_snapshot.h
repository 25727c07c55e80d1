// What the guest kernel shows about its CPUs, read through the guest agent.
//
// One GuestSnapshot is a consistent-enough picture of
// /sys/devices/system/cpu (masks, each cpuN's online flag, topology, ACPI
// firmware node and hotplug state), the registered hotplug state table,
// /proc/cpuinfo and guest-get-vcpus. It reads files only (guest-file-*), never
// a shell. A CPU whose directory vanishes mid-read (an unplug racing the
// probe) is retried, then recorded as absent, never a crash.
//
//   GuestSnapshot snap = ReadGuestSnapshot(vm.Agent());
//   EXPECT_EQ(snap.online, CpuSet::Parse("0-1"));
//
// What the kernel (6.1) really shows, and the snapshot records as is:
// - cpu0 has no `online` file (not removable) and, before the 2022 patch
//   "cpuhp: Set cpuhp target for boot cpu", hotplug/target reads 0 while
//   hotplug/state reads the `online` state's number.
// - cpuN/hotplug/ exists only for CPUs registered at boot (cpuhp_sysfs_init
//   runs once); a CPU hot-added later has no hotplug/state at all.
// - cpuN/topology/ exists only while the CPU is online; an offline CPU is
//   also missing from /proc/cpuinfo, so its APIC id is unknown. Its ACPI
//   firmware node (cpuN/firmware_node/path, "\_SB_.CPUS.C002") stays.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "guest/agent_client.h"
#include "guest/cpuset.h"
#include "guest/kernel_probe.h"

namespace cpuhp {

inline constexpr char kSysCpu[] = "/sys/devices/system/cpu";
inline constexpr char kSysNode[] = "/sys/devices/system/node";
// The most NUMA nodes the probe reads (QEMU's MAX_NODES is 128).
inline constexpr int kMaxProbedNodes = 128;

// cpuN/topology/*; present only while the CPU is online (the kernel removes
// the topology directory when a CPU goes down).
struct CpuTopology {
  int physical_package_id = -1;
  int die_id = -1;
  int core_id = -1;
  CpuSet thread_siblings;
  CpuSet core_cpus;
  bool operator==(const CpuTopology&) const = default;
};

// One /sys/devices/system/cpu/cpuN directory.
struct GuestCpu {
  int id = -1;
  // nullopt: no `online` file, the CPU is not removable (cpu0 on x86).
  std::optional<bool> online;
  std::optional<CpuTopology> topology;
  // From /proc/cpuinfo; only online CPUs are listed there.
  std::optional<int> apic_id;
  // cpuN/firmware_node/path: the ACPI processor device ("\_SB_.CPUS.C002");
  // nullopt where the guest has none (no ACPI, or a non-ACPI CPU).
  std::optional<std::string> firmware_node;
  // cpuN/hotplug/{state,target,fail}; nullopt where the file is absent.
  std::optional<int> hotplug_state;
  std::optional<int> hotplug_target;
  std::optional<int> hotplug_fail;
  // The M of each cpuN/nodeM link (register_cpu_under_node: one, for a
  // present CPU); read only when the guest has more than one node.
  CpuSet node_links;
  bool operator==(const GuestCpu&) const = default;
};

// One line of /sys/devices/system/cpu/hotplug/states: "236: online".
struct HotplugState {
  int number = -1;
  std::string name;
  bool operator==(const HotplugState&) const = default;
};

struct GuestSnapshot {
  CpuSet possible;
  CpuSet present;
  CpuSet online;
  CpuSet offline;
  int kernel_max = -1;
  // Every cpuN directory that exists, by N (of those probed).
  std::map<int, GuestCpu> cpus;
  // The N whose cpuN directory was looked for: the agent's listing, present
  // and online. Absent from `cpus` means the directory was not there.
  CpuSet probed;
  std::vector<HotplugState> states;
  // `processor` entries in /proc/cpuinfo.
  int cpuinfo_processors = 0;
  // /proc/cpuinfo's vendor_id ("GenuineIntel", "AuthenticAMD"); "" if none.
  std::string cpu_vendor;
  // guest-get-vcpus, sorted by logical id. qemu-ga lists the cpuN
  // directories it finds, so this is also the guest's directory listing.
  std::vector<GuestVcpu> agent_vcpus;
  // Tasks, IRQs, cpusets, SMT control: only when a DeepProbe asked for them.
  std::optional<DeepView> deep;
  // /sys/devices/system/node/nodeM/cpulist by M, for every possible node;
  // empty when the guest has one node (or no NUMA): nothing to tell apart.
  // x86 lists only online CPUs there (numa_add_cpu()/numa_remove_cpu() on
  // online and offline), while the cpuN/nodeM links stay for present CPUs.
  std::map<int, CpuSet> node_cpus;

  // The number of the state called `name` ("online", "offline"), if registered.
  std::optional<int> StateNumber(std::string_view name) const;
  // The name of state `number`, or "?".
  std::string StateName(int number) const;
  const GuestCpu* Cpu(int id) const;
};

// Parses "N: name" lines. Throws ProtocolError naming the bad line.
std::vector<HotplugState> ParseHotplugStates(std::string_view text);

struct CpuinfoEntry {
  int processor = -1;
  std::optional<int> apic_id;
  std::string vendor;
};
// The processor/apicid/vendor_id of each /proc/cpuinfo entry.
std::vector<CpuinfoEntry> ParseCpuinfo(std::string_view text);

// /sys/devices/system/cpu/offline. The kernel appends the CPUs at and above
// nr_cpu_ids after a comma even when the first part is empty (",4-7",
// drivers/base/cpu.c print_cpus_offline), which plain cpulist syntax rejects.
CpuSet ParseOfflineMask(std::string_view text, std::string_view source);

// Where the probe reads from: the guest agent, or (in tests) a tree of files
// captured from a real guest.
class GuestFiles {
 public:
  virtual ~GuestFiles() = default;
  // A file's content, nullopt when it does not exist (ENOENT/ENODEV).
  // Throws on any other failure (AgentError, TimeoutError, ConnectionError).
  virtual std::optional<std::string> TryRead(const std::string& path, const Deadline& deadline) = 0;
  // guest-get-vcpus.
  virtual std::vector<GuestVcpu> GetVcpus(const Deadline& deadline) = 0;
  // A hint that these files are about to be read: an implementation may fetch
  // them in one batch. Each prefetched content is served once.
  virtual void Prefetch(const std::vector<std::string>& /*paths*/, const Deadline& /*deadline*/) {}
};

// GuestFiles over the guest agent (guest-file-open/read/close).
class AgentGuestFiles : public GuestFiles {
 public:
  explicit AgentGuestFiles(AgentLink& agent) : agent_(agent) {}
  std::optional<std::string> TryRead(const std::string& path, const Deadline& deadline) override;
  std::vector<GuestVcpu> GetVcpus(const Deadline& deadline) override;
  void Prefetch(const std::vector<std::string>& paths, const Deadline& deadline) override;

 private:
  AgentLink& agent_;
  // Prefetched contents (nullopt: the file does not exist), each served once
  // so that a retry after a change reads the guest again.
  std::map<std::string, std::optional<std::string>> prefetched_;
};

// Reads the whole snapshot. Throws AgentError/TimeoutError/ConnectionError on
// agent trouble, CpuListError on a malformed mask and ProtocolError on a
// malformed number or state table (each naming the file).
// The guest kernel's release (uname -r, from /proc/sys/kernel/osrelease),
// as it goes into reports: one line, at most 64 bytes, terminal-safe; "" when
// the guest does not say.
std::string ReadGuestKernelRelease(AgentLink& agent);

GuestSnapshot ReadGuestSnapshot(AgentLink& agent,
                                const Deadline& deadline = Deadline::After(kAgentTimeout * 4),
                                const DeepProbe& probe = {});
GuestSnapshot ReadGuestSnapshot(GuestFiles& files,
                                const Deadline& deadline = Deadline::After(kAgentTimeout * 4),
                                const DeepProbe& probe = {});

// The extra views a DeepProbe asks for (guest/kernel_probe.h). Throws as
// ReadGuestSnapshot.
DeepView ReadDeepView(GuestFiles& files, const DeepProbe& probe, const Deadline& deadline);

nlohmann::json ToJson(const GuestSnapshot& snapshot);

}  // namespace cpuhp
