// What the rest of the guest kernel does when a CPU comes and goes: where
// watched tasks run and may run, where IRQs are delivered and counted, what
// cgroup v2 cpusets make of the CPUs, and the SMT control. Read only when a
// check asks for it (DeepProbe), through the agent's file commands, never a
// shell; every list the guest gives is bounded (named limits below).
//
//   DeepProbe probe{.tasks = {pid}, .irqs = true};
//   GuestSnapshot snap = ReadGuestSnapshot(files, deadline, probe);
//   snap.deep->tasks.at(pid).processor;
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "guest/cpuset.h"

namespace cpuhp {

// The extra views, by the word scenarios use for them.
inline constexpr const char* kDeepProbeNames[] = {"tasks", "irqs", "cpusets", "smt"};

// Where cpuhp mounts cgroup2 in the guest (the cgroup step).
inline constexpr char kCgroupRoot[] = "/sys/fs/cgroup";

// Limits on what the guest's /proc lists may hold.
inline constexpr size_t kMaxIrqs = 4096;           // IRQ lines taken from /proc/interrupts
inline constexpr size_t kMaxDeepTasks = 256;       // watched pids
inline constexpr size_t kMaxCgroups = 64;          // watched cgroups
inline constexpr size_t kMaxPerCpuCounts = 8192;   // entries of one per_cpu_count

// What to read besides the CPU snapshot; empty: nothing.
struct DeepProbe {
  std::vector<int64_t> tasks;         // /proc/<pid>/{stat,status}
  bool watch_tasks = false;           // the task invariants run (even with no task to read)
  bool irqs = false;                  // /proc/interrupts, /proc/irq/N, /sys/kernel/irq/N
  std::vector<std::string> cgroups;   // names under kCgroupRoot (the root is always read)
  bool cpusets = false;
  bool smt = false;
  bool Any() const { return !tasks.empty() || irqs || cpusets || smt; }
  bool operator==(const DeepProbe&) const = default;
  // Enables the probe called `name` (kDeepProbeNames); false if unknown.
  bool Enable(std::string_view name);
};

// /proc/<pid>/stat field 3 and 39, and /proc/<pid>/status Cpus_allowed_list.
struct TaskView {
  int64_t pid = 0;
  bool exists = false;  // false: the process is gone
  char state = '?';     // 'R' running or runnable, 'S', 'D', 'Z', ...
  int processor = -1;   // the CPU it last ran on (or runs on, when R)
  CpuSet allowed;
  bool operator==(const TaskView&) const = default;
};

struct IrqView {
  int irq = -1;
  std::string name;                     // the action column of /proc/interrupts, bounded
  std::optional<CpuSet> effective;      // /proc/irq/N/effective_affinity_list
  std::optional<CpuSet> affinity;       // /proc/irq/N/smp_affinity_list
  std::vector<uint64_t> per_cpu_count;  // /sys/kernel/irq/N/per_cpu_count, by possible CPU
  bool operator==(const IrqView&) const = default;
};

struct CgroupView {
  std::string name;  // "" for the root
  std::optional<CpuSet> cpus;  // cpuset.cpus (the root has none)
  std::optional<CpuSet> effective;  // cpuset.cpus.effective; nullopt: no cpuset here
  bool operator==(const CgroupView&) const = default;
};

struct DeepView {
  std::map<int64_t, TaskView> tasks;
  bool irqs_read = false;
  std::vector<IrqView> irqs;
  bool cpusets_read = false;
  std::vector<CgroupView> cgroups;  // the root first
  std::optional<std::string> smt_control;  // smt/control; nullopt when not read or absent
  std::optional<bool> smt_active;
  bool smt_read = false;
  bool operator==(const DeepView&) const = default;
};

// /sys/kernel/irq/N/per_cpu_count of every IRQ, and the online mask then.
struct IrqCountsBaseline {
  CpuSet online;
  std::map<int, std::vector<uint64_t>> counts;
};

// `/proc/<pid>/stat`: state (field 3) and processor (field 39). The command
// (field 2) may hold spaces and parentheses: fields are counted after the
// last ')'. Throws ProtocolError naming `source`.
std::pair<char, int> ParseProcStat(std::string_view text, std::string_view source);
// `Cpus_allowed_list:` of /proc/<pid>/status. Throws ProtocolError/CpuListError.
CpuSet ParseCpusAllowed(std::string_view text, std::string_view source);
// The numbered lines of /proc/interrupts: IRQ number and its action names
// (the last column, cut at 64 bytes). At most kMaxIrqs; more is a ProtocolError.
std::vector<std::pair<int, std::string>> ParseInterruptLines(std::string_view text);
// "0,9,0,..." of /sys/kernel/irq/N/per_cpu_count. Throws ProtocolError.
std::vector<uint64_t> ParsePerCpuCount(std::string_view text, std::string_view source);

nlohmann::json ToJson(const DeepView& view);

}  // namespace cpuhp
