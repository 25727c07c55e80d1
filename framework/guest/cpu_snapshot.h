// What the guest kernel shows about its CPUs, read through the guest agent.
//
// One GuestSnapshot is a consistent-enough picture of
// /sys/devices/system/cpu (masks, each cpuN's online flag, topology and
// hotplug state), the registered hotplug state table, /proc/cpuinfo and
// guest-get-vcpus. It reads files only (guest-file-*), never a shell. A CPU
// whose directory vanishes mid-read (an unplug racing the probe) is retried,
// then recorded as absent, never a crash.
//
//   GuestSnapshot snap = ReadGuestSnapshot(vm.Agent());
//   EXPECT_EQ(snap.online, CpuSet::Parse("0-1"));
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "guest/agent_client.h"
#include "guest/cpuset.h"

namespace cpuhp {

inline constexpr char kSysCpu[] = "/sys/devices/system/cpu";

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
  // cpuN/hotplug/{state,target,fail}; nullopt where the file is absent.
  std::optional<int> hotplug_state;
  std::optional<int> hotplug_target;
  std::optional<int> hotplug_fail;
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
  // Every cpuN directory that exists, by N.
  std::map<int, GuestCpu> cpus;
  std::vector<HotplugState> states;
  // `processor` entries in /proc/cpuinfo.
  int cpuinfo_processors = 0;
  std::vector<GuestVcpu> agent_vcpus;

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
};
// The processor/apicid pairs of /proc/cpuinfo.
std::vector<CpuinfoEntry> ParseCpuinfo(std::string_view text);

// Reads the whole snapshot. Throws AgentError/TimeoutError/ConnectionError on
// agent trouble, CpuListError on a malformed mask (naming the file).
GuestSnapshot ReadGuestSnapshot(AgentClient& agent,
                                const Deadline& deadline = Deadline::After(kAgentTimeout * 4));

nlohmann::json ToJson(const GuestSnapshot& snapshot);

}  // namespace cpuhp
