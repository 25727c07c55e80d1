// The invariants themselves. Each one is a function of the two views (and the
// slot mapping computed from them) that records Findings; no findings means
// it holds. docs/invariants.md explains each and why the kernel guarantees it.
#include <algorithm>
#include <cstdio>
#include <iterator>
#include <map>
#include <set>
#include <tuple>

#include "check/checker.h"
#include "check/cpu_mapping.h"
#include "check/outcome.h"
#include "util/error.h"
#include "util/text.h"

namespace cpuhp {
namespace {

constexpr char kSysfs[] = "guest /sys/devices/system/cpu/";
constexpr char kSlotsQuery[] = "QMP query-hotpluggable-cpus";
constexpr char kCpusQuery[] = "QMP query-cpus-fast";
constexpr char kAgentVcpus[] = "agent guest-get-vcpus";

struct Context {
  const HostView& host;
  const GuestSnapshot& guest;
  const CheckOptions& options;
  const CpuMapping& mapping;
};

std::string Cpu(int id) { return "cpu" + std::to_string(id); }

std::string List(const CpuSet& set) { return set.Empty() ? "(none)" : set.ToString(); }

std::string Count(const CpuSet& set) {
  return List(set) + " (" + std::to_string(set.Size()) + " CPU" + (set.Size() == 1 ? "" : "s") +
         ")";
}

std::optional<int> MaxCpu(const CpuSet& set) {
  if (set.Empty()) return std::nullopt;
  return *std::prev(set.end());
}

std::string StateText(const GuestSnapshot& g, int number) {
  return std::to_string(number) + " (" + g.StateName(number) + ")";
}

CpuSet Keys(const std::map<int, GuestCpu>& cpus) {
  CpuSet out;
  for (const auto& [id, cpu] : cpus) out.Insert(id);
  return out;
}

// --- masks -------------------------------------------------------------------

void MasksOrdered(const Context& c, Outcome& out) {
  const GuestSnapshot& g = c.guest;
  if (!g.online.IsSubsetOf(g.present)) {
    out.Fail({"online mask",
              g.online.ToString() + " has " + List(g.online.Minus(g.present)) +
                  " that is not present (present " + List(g.present) + ")",
              "online within present", std::string(kSysfs) + "{online,present}"});
  }
  if (!g.present.IsSubsetOf(g.possible)) {
    out.Fail({"present mask",
              g.present.ToString() + " has " + List(g.present.Minus(g.possible)) +
                  " that is not possible (possible " + List(g.possible) + ")",
              "present within possible", std::string(kSysfs) + "{present,possible}"});
  }
  auto max = MaxCpu(g.possible);
  if (g.kernel_max >= 0 && max && *max > g.kernel_max) {
    out.Fail({"possible mask",
              List(g.possible) + " goes past kernel_max " + std::to_string(g.kernel_max),
              "possible within 0-kernel_max", std::string(kSysfs) + "{possible,kernel_max}"});
  }
}

void OfflineComplement(const Context& c, Outcome& out) {
  const GuestSnapshot& g = c.guest;
  CpuSet expected = g.possible.Minus(g.online);
  auto max = MaxCpu(g.possible);
  CpuSet within, beyond;
  for (int id : g.offline) {
    if (max && id <= *max)
      within.Insert(id);
    else
      beyond.Insert(id);
  }
  if (within != expected) {
    std::vector<std::string> why;
    if (CpuSet extra = within.Minus(expected); !extra.Empty())
      why.push_back(List(extra) + " extra");
    if (CpuSet missing = expected.Minus(within); !missing.Empty()) {
      why.push_back(List(missing) + " missing");
    }
    out.Fail({"offline mask", List(g.offline) + " (" + Join(why) + ")",
              "possible - online = " + List(expected) + " (possible " + List(g.possible) +
                  ", online " + List(g.online) + ")",
              std::string(kSysfs) + "{offline,possible,online}"});
  }
  if (!beyond.Empty()) {
    // print_cpus_offline() appends the CPUs at and above nr_cpu_ids: the
    // firmware described them, the kernel will never use them.
    out.Note("offline also lists " + List(beyond) + ", past nr_cpu_ids (unusable CPUs)");
  }
}

// --- counts ------------------------------------------------------------------

int SlotVcpus(const std::vector<HotpluggableCpu>& slots, bool plugged_only) {
  int n = 0;
  for (const auto& s : slots) {
    if (!plugged_only || s.plugged()) n += s.vcpus_count;
  }
  return n;
}

void PossibleCount(const Context& c, Outcome& out) {
  const GuestSnapshot& g = c.guest;
  int slots = SlotVcpus(c.host.slots, false);
  const std::optional<SmpTopology>& qemu = c.host.smp;
  bool asked = c.options.smp != SmpTopology{};
  // QEMU's own -smp if it says, else what the caller asked for, else the slots.
  int maxcpus = qemu ? qemu->MaxCpus() : asked ? c.options.smp.MaxCpus() : slots;
  std::string source = qemu    ? "QMP qom-get /machine smp"
                       : asked ? "-smp " + c.options.smp.ToQemuArg()
                               : kSlotsQuery;
  if (static_cast<int>(g.possible.Size()) != maxcpus) {
    out.Fail({"possible mask", Count(g.possible), std::to_string(maxcpus) + " (maxcpus)",
              std::string(kSysfs) + "possible vs " + source});
  }
  if (qemu && asked && c.options.smp.MaxCpus() != maxcpus) {
    out.Fail({"QEMU", "runs with -smp " + qemu->ToQemuArg(),
              "maxcpus=" + std::to_string(c.options.smp.MaxCpus()) + " (-smp " +
                  c.options.smp.ToQemuArg() + ")",
              "QMP qom-get /machine smp vs the machine's spec"});
  }
  if (slots != maxcpus) {
    out.Fail({"QEMU", "offers " + std::to_string(slots) + " CPU slots",
              std::to_string(maxcpus) + " (maxcpus)", std::string(kSlotsQuery) + " vs " + source});
  }
  if (!qemu && !asked) out.Note("maxcpus taken from QEMU's slot count");
}

void PresentCount(const Context& c, Outcome& out) {
  const GuestSnapshot& g = c.guest;
  int plugged = SlotVcpus(c.host.slots, true);
  if (static_cast<int>(g.present.Size()) != plugged) {
    out.Fail({"present mask", Count(g.present), std::to_string(plugged) + " (QEMU's plugged slots)",
              std::string(kSysfs) + "present vs " + kSlotsQuery});
  }
  if (static_cast<int>(c.host.cpus.size()) != plugged) {
    out.Fail({"query-cpus-fast", "lists " + std::to_string(c.host.cpus.size()) + " vCPUs",
              std::to_string(plugged) + " (plugged slots in query-hotpluggable-cpus)",
              std::string(kCpusQuery) + " vs " + kSlotsQuery});
  }
}

void PresentCpusRegistered(const Context& c, Outcome& out) {
  for (int id : c.guest.present) {
    if (!c.guest.Cpu(id)) {
      out.Fail({Cpu(id), "is present but has no " + Cpu(id) + " directory",
                "a registered CPU device for every present CPU",
                std::string(kSysfs) + "{present," + Cpu(id) + "/}"});
    }
  }
}

// --- identity ----------------------------------------------------------------

std::string AcpiName(int index) {
  char name[16];
  std::snprintf(name, sizeof name, "C%03X", index);
  return name;
}

// The online guest CPUs whose slots share socket, die and core with `slot`.
CpuSet CoreMates(const Context& c, const SlotInfo& slot) {
  auto core = [](const CpuProps& p) {
    return std::tuple(p.socket_id.value_or(0), p.die_id.value_or(0), p.core_id.value_or(0));
  };
  CpuSet out;
  for (const auto& [id, match] : c.mapping.guests) {
    const SlotInfo* other = c.mapping.SlotOf(id);
    if (other && c.guest.online.Contains(id) && core(other->slot.props) == core(slot.slot.props)) {
      out.Insert(id);
    }
  }
  return out;
}

void CheckTopology(const Context& c, int id, const CpuTopology& t, const SlotInfo& slot,
                   Outcome& out) {
  const CpuProps& p = slot.slot.props;
  std::string source = "guest " + Cpu(id) + "/topology vs " + kSlotsQuery;
  auto mismatch = [&](const char* file, int seen, const char* prop, int expected) {
    out.Fail({Cpu(id), std::string("topology/") + file + "=" + std::to_string(seen),
              std::to_string(expected) + " (" + prop + " of slot " + slot.Describe() + ")",
              source});
  };
  if (p.socket_id && t.physical_package_id != *p.socket_id) {
    mismatch("physical_package_id", t.physical_package_id, "socket-id", *p.socket_id);
  }
  CpuSet mates = CoreMates(c, slot);
  // Only Intel's CPUID leaves 0xB/0x1F give the guest QEMU's own core and
  // die numbers; AMD models without topoext (qemu64, TCG's max) number
  // core_id from the APIC id and see no SMT siblings.
  if (c.guest.cpu_vendor == "GenuineIntel") {
    if (t.die_id != p.die_id.value_or(0))
      mismatch("die_id", t.die_id, "die-id", p.die_id.value_or(0));
    if (p.core_id && t.core_id != *p.core_id) mismatch("core_id", t.core_id, "core-id", *p.core_id);
    if (t.thread_siblings != mates) {
      out.Fail({Cpu(id), "topology/thread_siblings_list=" + List(t.thread_siblings),
                List(mates) + " (the online CPUs in QEMU's core of slot " + slot.Describe() + ")",
                source});
    }
  } else if (!t.thread_siblings.IsSubsetOf(mates)) {
    out.Fail({Cpu(id), "topology/thread_siblings_list=" + List(t.thread_siblings),
              "a subset of " + List(mates) + " (the online CPUs in QEMU's core of slot " +
                  slot.Describe() + ")",
              source});
  }
}

void Identity(const Context& c, Outcome& out) {
  const CpuMapping& m = c.mapping;
  const GuestSnapshot& g = c.guest;
  // Guest side: every CPU has exactly one plugged slot.
  for (const auto& [id, cpu] : g.cpus) {
    const GuestMatch& match = m.guests.at(id);
    std::string cpuinfo = "guest /proc/cpuinfo vs " + std::string(kSlotsQuery);
    if (cpu.apic_id && !match.by_apic) {
      std::vector<std::string> known;
      for (const auto& s : m.slots) known.push_back(std::to_string(s.apic_id));
      out.Fail({Cpu(id), "apicid=" + std::to_string(*cpu.apic_id) + " matches no QEMU slot",
                "one of " + Join(known, ","), cpuinfo});
    }
    std::optional<int> acpi = cpu.firmware_node ? AcpiCpuIndex(*cpu.firmware_node) : std::nullopt;
    if (acpi && !match.by_acpi) {
      out.Fail({Cpu(id), "firmware_node " + *cpu.firmware_node + " matches no QEMU slot",
                "C000-" + AcpiName(static_cast<int>(m.slots.size()) - 1),
                "guest " + Cpu(id) + "/firmware_node/path vs " + kSlotsQuery});
    }
    if (match.by_apic && match.by_acpi && *match.by_apic != *match.by_acpi) {
      out.Fail({Cpu(id),
                "apicid=" + std::to_string(*cpu.apic_id) + " is slot " +
                    m.slots[*match.by_apic].Describe() + " but firmware_node " +
                    *cpu.firmware_node + " is slot " + m.slots[*match.by_acpi].Describe(),
                "both to name the same slot",
                "guest /proc/cpuinfo, " + Cpu(id) + "/firmware_node/path"});
    }
    if (!cpu.apic_id && !acpi) {
      out.Fail({Cpu(id), "has no APIC id (not in /proc/cpuinfo) and no ACPI processor node",
                "an identifier that names its slot",
                "guest /proc/cpuinfo, " + Cpu(id) + "/firmware_node/path"});
    }
    if (auto position = match.slot(); position && !m.slots[*position].slot.plugged()) {
      out.Fail({Cpu(id),
                "is slot " + m.slots[*position].Describe() + " (by " +
                    (match.by_apic ? "APIC id" : "ACPI node") + "), which QEMU reports unplugged",
                "a plugged slot", kSlotsQuery});
    }
  }
  // Host side: every plugged slot has exactly one guest CPU ...
  for (size_t i = 0; i < m.slots.size(); ++i) {
    const SlotInfo& s = m.slots[i];
    if (!s.slot.plugged()) continue;
    auto guests = m.GuestCpusOf(i);
    if (guests.empty()) {
      out.Fail({"slot " + s.Describe(),
                "(" + *s.slot.qom_path + ") has no guest CPU: no cpuN with apicid " +
                    std::to_string(s.apic_id) + " or ACPI node " + AcpiName(s.index),
                "exactly one guest CPU", std::string(kSlotsQuery) + " vs guest"});
    } else if (guests.size() > 1) {
      std::vector<std::string> names;
      for (int id : guests) names.push_back(Cpu(id));
      out.Fail({"slot " + s.Describe(), "is claimed by " + Join(names), "exactly one guest CPU",
                std::string(kSlotsQuery) + " vs guest"});
    }
    // ... and one query-cpus-fast entry with the same props.
    int entries = 0;
    for (const auto& cf : c.host.cpus) {
      if (cf.qom_path != *s.slot.qom_path) continue;
      ++entries;
      if (cf.props != s.slot.props) {
        out.Fail({"slot " + s.Describe(),
                  "query-cpus-fast cpu-index " + std::to_string(cf.cpu_index) + " has props " +
                      cf.props.ToDeviceArgs(),
                  "the slot's props", std::string(kCpusQuery) + " vs " + kSlotsQuery});
      }
    }
    if (entries != 1) {
      out.Fail(
          {"slot " + s.Describe(),
           "(" + *s.slot.qom_path + ") has " + std::to_string(entries) + " query-cpus-fast entries",
           "exactly one", std::string(kCpusQuery) + " vs " + kSlotsQuery});
    }
  }
  for (const auto& cf : c.host.cpus) {
    bool known = std::any_of(m.slots.begin(), m.slots.end(),
                             [&](const SlotInfo& s) { return s.slot.qom_path == cf.qom_path; });
    if (!known) {
      out.Fail({"query-cpus-fast cpu-index " + std::to_string(cf.cpu_index),
                "qom-path " + cf.qom_path + " is no plugged slot", "a plugged slot's qom-path",
                std::string(kCpusQuery) + " vs " + kSlotsQuery});
    }
  }
  // Where the guest shows a topology (online CPUs), it must place the CPU
  // where QEMU did.
  for (const auto& [id, cpu] : g.cpus) {
    const SlotInfo* slot = m.SlotOf(id);
    if (cpu.topology && slot && slot->slot.plugged())
      CheckTopology(c, id, *cpu.topology, *slot, out);
  }
  out.Note(
      c.guest.cpu_vendor == "GenuineIntel"
          ? "package, die, core and thread siblings compared (GenuineIntel: CPUID 0xB topology)"
          : "package and thread siblings (subset) compared; core_id/die_id not (vendor " +
                (c.guest.cpu_vendor.empty() ? std::string("unknown") : c.guest.cpu_vendor) +
                ": the guest numbers cores from the APIC id)");
}

// --- hotplug state machine -----------------------------------------------------

void StateSettled(const Context& c, Outcome& out) {
  const GuestSnapshot& g = c.guest;
  auto online_state = g.StateNumber("online");
  int offline_state = g.StateNumber("offline").value_or(0);
  CpuSet unobservable;
  for (const auto& [id, cpu] : g.cpus) {
    if (!g.present.Contains(id)) continue;
    if (!cpu.hotplug_state) {
      unobservable.Insert(id);
      continue;
    }
    if (!cpu.hotplug_target) {
      out.Fail({Cpu(id),
                "hotplug/state=" + StateText(g, *cpu.hotplug_state) + " but no hotplug/target",
                "both files", "guest " + Cpu(id) + "/hotplug/"});
      continue;
    }
    int state = *cpu.hotplug_state, target = *cpu.hotplug_target;
    if (state == target) continue;
    // The boot CPU never goes through _cpu_up(): before the patch "cpuhp:
    // Set cpuhp target for boot cpu" (2022) its target stays CPUHP_OFFLINE.
    if (id == 0 && target == offline_state && online_state && state == *online_state &&
        g.online.Contains(0)) {
      out.Note("cpu0 hotplug/target=" + StateText(g, target) +
               " with state=" + StateText(g, state) +
               " accepted: the boot CPU's target is never set on this kernel");
      continue;
    }
    out.Fail({Cpu(id), "hotplug/state=" + StateText(g, state) + " target=" + StateText(g, target),
              "state == target (no transition in flight)",
              "guest " + Cpu(id) + "/hotplug/{state,target}"});
  }
  if (!unobservable.Empty()) {
    out.Note("not observable for cpus " + unobservable.ToString() +
             ": no hotplug/ directory (hot-added after boot; the kernel creates it only for CPUs "
             "registered at boot)");
  }
}

void StateMatchesOnline(const Context& c, Outcome& out) {
  const GuestSnapshot& g = c.guest;
  auto online_state = g.StateNumber("online");
  int offline_state = g.StateNumber("offline").value_or(0);
  bool any_state = std::any_of(g.cpus.begin(), g.cpus.end(),
                               [](const auto& e) { return e.second.hotplug_state.has_value(); });
  if (any_state && !online_state) {
    out.Fail({"hotplug/states", "has no \"online\" entry", "one (CPUHP_ONLINE)",
              std::string(kSysfs) + "hotplug/states"});
  }
  for (const auto& [id, cpu] : g.cpus) {
    if (!g.present.Contains(id)) continue;
    bool in_mask = g.online.Contains(id);
    std::string mask = "the online mask " + List(g.online);
    if (cpu.online && *cpu.online != in_mask) {
      out.Fail({Cpu(id),
                std::string(*cpu.online ? "online=1" : "online=0") + " but " + mask +
                    (in_mask ? " includes it" : " lacks it"),
                Cpu(id) + "/online to agree with the online mask",
                std::string(kSysfs) + "{" + Cpu(id) + "/online,online}"});
    }
    if (!cpu.online && !in_mask) {
      out.Fail({Cpu(id), "has no online file (cannot be offlined) yet " + mask + " lacks it",
                "a non-removable CPU to be online",
                std::string(kSysfs) + "{" + Cpu(id) + "/online,online}"});
    }
    if (cpu.hotplug_state && online_state) {
      int want = in_mask ? *online_state : offline_state;
      if (*cpu.hotplug_state != want) {
        out.Fail({Cpu(id),
                  "hotplug/state=" + StateText(g, *cpu.hotplug_state) + " while " +
                      (in_mask ? "online" : "offline"),
                  StateText(g, want),
                  std::string(kSysfs) + "{" + Cpu(id) + "/hotplug/state,online,hotplug/states}"});
      }
    }
  }
  for (int id : g.online) {
    if (g.present.Contains(id) && !g.Cpu(id)) {
      out.Fail({Cpu(id), "is in the online mask but has no " + Cpu(id) + " directory",
                "a CPU device for every online CPU", std::string(kSysfs) + "online"});
    }
  }
}

void RemovedCpusGone(const Context& c, Outcome& out) {
  const GuestSnapshot& g = c.guest;
  for (const auto& [id, cpu] : g.cpus) {
    if (!g.present.Contains(id)) {
      out.Fail(
          {Cpu(id),
           "directory exists but " + Cpu(id) + " is not present (present " + List(g.present) + ")",
           "no directory for a CPU that is not present",
           std::string(kSysfs) + "{" + Cpu(id) + "/,present}"});
    }
    if (const SlotInfo* slot = c.mapping.SlotOf(id); slot && !slot->slot.plugged()) {
      out.Fail({Cpu(id),
                "is still in the guest but its slot " + slot->Describe() + " was unplugged in QEMU",
                "the guest to have removed it",
                "guest " + Cpu(id) + "/ vs " + std::string(kSlotsQuery)});
    }
  }
}

void StatesStable(const Context& c, Outcome& out) {
  const auto& baseline = c.options.baseline_states;
  const auto& now = c.guest.states;
  if (baseline.empty()) {
    out.Note("no baseline state table given: nothing to compare");
    return;
  }
  if (now == baseline) return;
  auto text = [](const HotplugState& s) { return std::to_string(s.number) + ": " + s.name; };
  auto key = [](const HotplugState& s) { return std::pair(s.number, s.name); };
  std::set<std::pair<int, std::string>> before, after;
  for (const auto& s : baseline) before.insert(key(s));
  for (const auto& s : now) after.insert(key(s));
  std::vector<std::string> lost, added;
  for (const auto& s : baseline) {
    if (!after.count(key(s))) lost.push_back(text(s));
  }
  for (const auto& s : now) {
    if (!before.count(key(s))) added.push_back(text(s));
  }
  std::string source = std::string(kSysfs) + "hotplug/states vs the baseline";
  if (!lost.empty()) {
    out.Fail({"hotplug/states", "lost " + Join(lost), "every baseline entry to stay", source});
  }
  if (!added.empty()) {
    out.Fail({"hotplug/states", "gained " + Join(added), "no new entries", source});
  }
  if (lost.empty() && added.empty()) {
    out.Fail({"hotplug/states", "lists the same entries in another order", "the baseline order",
              source});
  }
}

// --- agreement with other sources ------------------------------------------------

void AgentAgrees(const Context& c, Outcome& out) {
  const GuestSnapshot& g = c.guest;
  CpuSet agent_online, agent_listed;
  for (const auto& v : g.agent_vcpus) {
    agent_listed.Insert(v.logical_id);
    if (v.online) agent_online.Insert(v.logical_id);
  }
  if (agent_online != g.online) {
    out.Fail({"guest-get-vcpus", "online " + List(agent_online),
              "the online mask " + List(g.online),
              std::string(kAgentVcpus) + " vs " + kSysfs + "online"});
  }
  CpuSet dirs = Keys(g.cpus);
  if (agent_listed != dirs) {
    out.Fail({"guest-get-vcpus", "lists " + List(agent_listed),
              "the cpuN directories " + List(dirs), std::string(kAgentVcpus) + " vs " + kSysfs});
  }
  for (const auto& v : g.agent_vcpus) {
    const GuestCpu* cpu = g.Cpu(v.logical_id);
    if (!cpu || v.can_offline == cpu->online.has_value()) continue;
    out.Fail({Cpu(v.logical_id),
              std::string("can-offline=") + (v.can_offline ? "true" : "false") +
                  (cpu->online ? " with" : " without") + " an online file",
              std::string("can-offline=") + (cpu->online ? "true" : "false"),
              std::string(kAgentVcpus) + " vs " + kSysfs + Cpu(v.logical_id) + "/online"});
  }
}

void CpuinfoCount(const Context& c, Outcome& out) {
  const GuestSnapshot& g = c.guest;
  if (g.cpuinfo_processors != static_cast<int>(g.online.Size())) {
    out.Fail({"/proc/cpuinfo", "lists " + std::to_string(g.cpuinfo_processors) + " processors",
              std::to_string(g.online.Size()) + " (the online mask " + List(g.online) + ")",
              std::string("guest /proc/cpuinfo vs ") + kSysfs + "online"});
  }
}


// --- the rest of the kernel: tasks, IRQs, cpusets, SMT (deep probes) -------------

// The deep view, or a note saying it was not read (the invariant then holds).
const DeepView* DeepOrNote(const Context& c, Outcome& out, bool read, const char* what) {
  if (c.guest.deep && read) return &*c.guest.deep;
  out.Note(std::string("not probed: no ") + what + " in this snapshot");
  return nullptr;
}

std::string Pid(int64_t pid) { return "pid " + std::to_string(pid); }

void TasksOnOnlineCpus(const Context& c, Outcome& out) {
  const DeepView* d = DeepOrNote(c, out, c.guest.deep && !c.guest.deep->tasks.empty(), "watched tasks");
  if (!d) return;
  std::vector<std::string> sleeping, gone;
  for (const auto& [pid, t] : d->tasks) {
    if (!t.exists) {
      gone.push_back(std::to_string(pid));
      continue;
    }
    // A sleeping task keeps its last CPU in field 39 until it wakes, and
    // select_task_rq() then picks an allowed, online one: only R counts.
    if (t.state != 'R') {
      sleeping.push_back(std::to_string(pid) + " " + t.state);
      continue;
    }
    std::string source = "guest /proc/" + std::to_string(pid) + "/{stat,status} vs " + kSysfs + "online";
    if (!c.guest.online.Contains(t.processor)) {
      out.Fail({Pid(pid), "state R on cpu" + std::to_string(t.processor) + ", not online (online " +
                              List(c.guest.online) + ")",
                "a runnable task on an online CPU (migrate_tasks() empties a dying CPU)", source});
    } else if (!t.allowed.Contains(t.processor)) {
      out.Fail({Pid(pid), "state R on cpu" + std::to_string(t.processor) + " outside Cpus_allowed_list " +
                              List(t.allowed),
                "a runnable task on a CPU it may run on", source});
    }
  }
  if (!sleeping.empty()) out.Note("not runnable, not placed: " + Join(sleeping));
  if (!gone.empty()) out.Note("exited: " + Join(gone));
}

void TasksAffinityOnline(const Context& c, Outcome& out) {
  const DeepView* d = DeepOrNote(c, out, c.guest.deep && !c.guest.deep->tasks.empty(), "watched tasks");
  if (!d) return;
  for (const auto& [pid, t] : d->tasks) {
    if (!t.exists || !t.allowed.Intersect(c.guest.online).Empty()) continue;
    out.Fail({Pid(pid), "Cpus_allowed_list " + List(t.allowed) + " has no online CPU (online " +
                            List(c.guest.online) + ")",
              "an online CPU in its affinity (select_fallback_rq() widens the mask of a task whose "
              "CPUs all went: its cpuset's CPUs, then cpu_possible_mask)",
              "guest /proc/" + std::to_string(pid) + "/status vs " + kSysfs + "online"});
  }
}

void IrqsOnOnlineCpus(const Context& c, Outcome& out) {
  const DeepView* d = DeepOrNote(c, out, c.guest.deep && c.guest.deep->irqs_read, "IRQ view");
  if (!d) return;
  std::vector<std::string> unset, parked;
  for (const auto& irq : d->irqs) {
    if (!irq.effective || irq.effective->Empty()) {
      unset.push_back(std::to_string(irq.irq));
      continue;
    }
    std::string irq_dir = "guest /proc/irq/" + std::to_string(irq.irq) + "/";
    if (irq.affinity && irq.affinity->Intersect(c.guest.online).Empty()) {
      // A managed IRQ (virtio-blk's per-queue ones) whose CPUs are all
      // offline is shut down, and 6.1 then shows a stale effective CPU
      // outside its affinity (seen: affinity 4, effective 0).
      parked.push_back(std::to_string(irq.irq));
    } else if (irq.affinity && !irq.effective->IsSubsetOf(*irq.affinity)) {
      // The vector domain picks the effective CPU from the affinity's online
      // CPUs: a managed IRQ whose CPU came back is effective there again.
      out.Fail({"irq " + std::to_string(irq.irq) + " (" + irq.name + ")",
                "effective_affinity_list " + List(*irq.effective) + " outside smp_affinity_list " +
                    List(*irq.affinity),
                "the effective CPUs within the affinity's online CPUs",
                irq_dir + "{effective_affinity_list,smp_affinity_list}"});
    }
    CpuSet stray = irq.effective->Minus(c.guest.online);
    if (stray.Empty()) continue;
    out.Fail({"irq " + std::to_string(irq.irq) + " (" + irq.name + ")",
              "effective_affinity_list " + List(*irq.effective) + " has " + List(stray) +
                  ", not online",
              "only online CPUs (fixup_irqs() moves IRQs off a dying CPU; a managed IRQ whose CPUs "
              "all went is shut down)",
              "guest /proc/irq/" + std::to_string(irq.irq) + "/effective_affinity_list vs " + kSysfs +
                  "online"});
  }
  if (!unset.empty()) out.Note("no effective affinity (not started or shut down): irq " + Join(unset));
  if (!parked.empty()) {
    out.Note("no online CPU in the affinity (managed, shut down; effective not compared with it): irq " +
             Join(parked));
  }
}

void IrqCountsFrozen(const Context& c, Outcome& out) {
  const DeepView* d = DeepOrNote(c, out, c.guest.deep && c.guest.deep->irqs_read, "IRQ view");
  if (!d) return;
  if (!c.options.previous_irqs) {
    out.Note("no earlier IRQ counts: nothing to compare");
    return;
  }
  const IrqCountsBaseline& before = *c.options.previous_irqs;
  // Offline at both readings: nothing may have been delivered there between.
  CpuSet quiet = c.guest.possible.Minus(c.guest.online).Minus(before.online);
  for (const auto& irq : d->irqs) {
    auto it = before.counts.find(irq.irq);
    if (it == before.counts.end()) continue;
    for (int cpu : quiet) {
      auto index = static_cast<size_t>(cpu);
      if (index >= irq.per_cpu_count.size() || index >= it->second.size()) continue;
      if (irq.per_cpu_count[index] == it->second[index]) continue;
      out.Fail({"irq " + std::to_string(irq.irq) + " (" + irq.name + ")",
                Cpu(cpu) + " count " + std::to_string(it->second[index]) + " -> " +
                    std::to_string(irq.per_cpu_count[index]) + " while offline",
                "no interrupt delivered to an offline CPU",
                "guest /sys/kernel/irq/" + std::to_string(irq.irq) + "/per_cpu_count, two readings"});
    }
  }
  if (quiet.Empty()) out.Note("no CPU offline at both readings");
}

void CpusetEffective(const Context& c, Outcome& out) {
  const DeepView* d = DeepOrNote(c, out, c.guest.deep && c.guest.deep->cpusets_read, "cgroup view");
  if (!d) return;
  const CgroupView* root = d->cgroups.empty() ? nullptr : &d->cgroups.front();
  if (!root || !root->effective) {
    out.Note("no cpuset controller at " + std::string(kCgroupRoot) + " (cgroup2 not mounted)");
    return;
  }
  std::string root_source = std::string("guest ") + kCgroupRoot + "/cpuset.cpus.effective";
  // The root follows the active mask; on a settled guest active == online.
  if (*root->effective != c.guest.online) {
    out.Fail({"cgroup /", "cpuset.cpus.effective " + List(*root->effective),
              "the online mask " + List(c.guest.online),
              root_source + " vs " + kSysfs + "online"});
  }
  for (size_t i = 1; i < d->cgroups.size(); ++i) {
    const CgroupView& g = d->cgroups[i];
    std::string subject = "cgroup " + g.name;
    std::string source = std::string("guest ") + kCgroupRoot + "/" + g.name + "/cpuset.cpus{,.effective}";
    if (!g.effective || !g.cpus) {
      out.Fail({subject, "has no cpuset.cpus.effective", "a cpuset (created by the cgroup step)", source});
      continue;
    }
    // cgroup v2: the CPUs asked for that the parent has; the parent's when
    // none is left (or none was asked for). cpuhp's cgroups are children of the root.
    CpuSet want = g.cpus->Intersect(*root->effective);
    if (want.Empty()) want = *root->effective;
    if (*g.effective != want) {
      out.Fail({subject, "cpuset.cpus.effective " + List(*g.effective) + " (cpuset.cpus " + List(*g.cpus) + ")",
                List(want) + " (cpuset.cpus within the root's effective " + List(*root->effective) +
                    ", or the root's when that is empty)",
                source + " vs " + root_source});
    }
  }
}

void SmtControlHonoured(const Context& c, Outcome& out) {
  const DeepView* d = DeepOrNote(c, out, c.guest.deep && c.guest.deep->smt_read, "SMT view");
  if (!d) return;
  std::string source = std::string(kSysfs) + "smt/{control,active}";
  if (!d->smt_control) {
    out.Note("no smt/control (kernel without CONFIG_HOTPLUG_SMT)");
    return;
  }
  const std::string& control = *d->smt_control;
  if (control == "notsupported" || control == "notimplemented") {
    out.Note("smt/control=" + control + ": the guest sees no SMT (e.g. an AMD CPU model without topoext)");
  }
  // Online CPUs whose slot is a secondary thread: what `off` must have offlined.
  std::vector<int> secondary;
  for (int cpu : c.guest.online) {
    auto it = c.mapping.guests.find(cpu);
    if (it == c.mapping.guests.end() || !it->second.slot()) continue;
    const auto& props = c.mapping.slots[*it->second.slot()].slot.props;
    if (props.thread_id.value_or(0) != 0) secondary.push_back(cpu);
  }
  bool disabled = control == "off" || control == "forceoff";
  if (disabled) {
    for (int cpu : secondary) {
      out.Fail({Cpu(cpu), "online, a secondary thread (QEMU slot thread-id != 0), with smt/control=" + control,
                "no secondary thread online (cpu_smt_allowed() refuses them)",
                source + " vs " + kSysfs + "online, " + kSlotsQuery});
    }
  }
  // smt/active is sched_smt_active(): some core has two threads online.
  bool pair_online = false;
  for (int cpu : c.guest.online) {
    const GuestCpu* g = c.guest.Cpu(cpu);
    if (g && g->topology && g->topology->thread_siblings.Intersect(c.guest.online).Size() > 1) {
      pair_online = true;
    }
  }
  if (d->smt_active && *d->smt_active != pair_online) {
    out.Fail({"smt/active", std::string("reads ") + (*d->smt_active ? "1" : "0"),
              std::string(pair_online ? "1 (a core has two online threads)"
                                      : "0 (no core has two online threads)"),
              source + " vs " + kSysfs + "cpuN/topology/thread_siblings_list"});
  }
}

// --- NUMA ----------------------------------------------------------------------

void NumaNode(const Context& c, Outcome& out) {
  const GuestSnapshot& g = c.guest;
  const std::string nodes = "guest /sys/devices/system/node/";
  bool any = false;
  for (size_t i = 0; i < c.mapping.slots.size(); ++i) {
    const SlotInfo& info = c.mapping.slots[i];
    if (!info.slot.plugged() || !info.slot.props.node_id) continue;
    any = true;
    const int node = *info.slot.props.node_id;
    const std::string want = "node" + std::to_string(node) + ", QEMU's node-id for " +
                             info.Describe();
    for (int id : c.mapping.GuestCpusOf(i)) {
      const GuestCpu* cpu = g.Cpu(id);
      if (!cpu) continue;
      if (g.node_cpus.empty()) {
        // One node in the guest: right only when QEMU put the CPU in node 0.
        if (node != 0) {
          out.Fail({Cpu(id), "the guest has a single NUMA node", want,
                    nodes + "possible vs " + kSlotsQuery});
        }
        continue;
      }
      if (cpu->node_links != CpuSet{node}) {
        out.Fail({Cpu(id), "linked under node " + List(cpu->node_links), want,
                  std::string(kSysfs) + Cpu(id) + "/nodeM"});
      }
      if (!g.online.Contains(id)) continue;  // x86 lists only online CPUs in nodeM/cpulist
      for (const auto& [n, cpus] : g.node_cpus) {
        if (cpus.Contains(id) != (n == node)) {
          out.Fail({Cpu(id),
                    std::string(cpus.Contains(id) ? "listed" : "not listed") + " in node" +
                        std::to_string(n) + "/cpulist " + List(cpus),
                    want, nodes + "node" + std::to_string(n) + "/cpulist"});
        }
      }
    }
  }
  if (!any) out.Note("no plugged slot has a node-id (no -numa)");
}

// --- libvirt's view (the third view, libvirt backend only) ---------------------

constexpr char kLibvirtXml[] = "libvirt live XML <vcpus>";
constexpr char kLibvirtCounts[] = "libvirt virDomainGetVcpusFlags";

// libvirt vCPU i is the i-th slot of query-hotpluggable-cpus sorted by
// (socket, die, core, thread): its enabled vCPUs must be exactly the plugged slots.
void LibvirtEnabledMatchesSlots(const Context& c, Outcome& out) {
  if (!c.host.libvirt) {
    out.Note("no libvirt view (not the libvirt backend)");
    return;
  }
  const LibvirtView& lv = *c.host.libvirt;
  std::vector<HotpluggableCpu> slots = c.host.slots;
  std::sort(slots.begin(), slots.end(), SlotOrderLess);
  if (lv.vcpus.size() != slots.size()) {
    out.Fail({"<vcpus>", "lists " + std::to_string(lv.vcpus.size()) + " vCPUs",
              std::to_string(slots.size()) + " (QEMU's slots)", std::string(kLibvirtXml) + " vs " + kSlotsQuery});
  }
  for (const LibvirtVcpu& v : lv.vcpus) {
    if (v.id < 0 || static_cast<size_t>(v.id) >= slots.size()) continue;
    const HotpluggableCpu& slot = slots[v.id];
    if (v.enabled != slot.plugged()) {
      out.Fail({"libvirt vcpu " + std::to_string(v.id),
                std::string("enabled='") + (v.enabled ? "yes" : "no") + "'",
                std::string("enabled='") + (slot.plugged() ? "yes" : "no") + "' (QEMU's slot " +
                    slot.props.ToDeviceArgs() + " is " + (slot.plugged() ? "plugged" : "free") + ")",
                std::string(kLibvirtXml) + " vs " + kSlotsQuery});
    }
    if (!v.enabled && !v.hotpluggable) {
      out.Fail({"libvirt vcpu " + std::to_string(v.id), "disabled and hotpluggable='no'",
                "every disabled vCPU hot-pluggable", kLibvirtXml});
    }
  }
}

// libvirt's counts (the live XML's current, virDomainGetVcpusFlags) against
// QEMU's plugged slots and the guest's present CPUs.
void LibvirtCountsMatch(const Context& c, Outcome& out) {
  if (!c.host.libvirt) {
    out.Note("no libvirt view (not the libvirt backend)");
    return;
  }
  const LibvirtView& lv = *c.host.libvirt;
  int plugged = SlotVcpus(c.host.slots, true);
  int all = SlotVcpus(c.host.slots, false);
  int enabled = static_cast<int>(
      std::count_if(lv.vcpus.begin(), lv.vcpus.end(), [](const LibvirtVcpu& v) { return v.enabled; }));
  auto expect = [&](const std::string& what, int seen, int want, const std::string& against,
                    const std::string& source) {
    if (seen != want) {
      out.Fail({what, std::to_string(seen), std::to_string(want) + " (" + against + ")", source});
    }
  };
  expect("live vCPU count", lv.live_count, plugged, "QEMU's plugged slots",
         std::string(kLibvirtCounts) + "(LIVE) vs " + kSlotsQuery);
  expect("maximum vCPU count", lv.maximum_count, all, "QEMU's slots",
         std::string(kLibvirtCounts) + "(LIVE|MAXIMUM) vs " + kSlotsQuery);
  expect("<vcpu current>", lv.xml_current, plugged, "QEMU's plugged slots",
         std::string("libvirt live XML <vcpu current> vs ") + kSlotsQuery);
  if (!lv.vcpus.empty()) {
    expect("enabled <vcpus>", enabled, static_cast<int>(c.guest.present.Size()),
           "the guest's present CPUs " + List(c.guest.present), std::string(kLibvirtXml) + " vs " + kSysfs + "present");
  }
}

struct Invariant {
  const char* name;
  const char* description;
  void (*check)(const Context&, Outcome&);
  // The deep probe it needs (kDeepProbeNames); nullptr: it always runs.
  const char* probe = nullptr;
};

constexpr Invariant kInvariants[] = {
    {"masks-ordered", "online within present within possible, possible within 0-kernel_max",
     MasksOrdered},
    {"offline-complement", "offline is possible minus online", OfflineComplement},
    {"possible-count", "possible has maxcpus CPUs", PossibleCount},
    {"present-count",
     "present has as many CPUs as QEMU has plugged slots and query-cpus-fast entries",
     PresentCount},
    {"present-cpus-registered", "every present CPU has a cpuN directory", PresentCpusRegistered},
    {"identity", "plugged slots and guest CPUs match one to one (APIC id, ACPI node, topology)",
     Identity},
    {"state-settled", "hotplug/state equals hotplug/target for every present CPU", StateSettled},
    {"state-matches-online",
     "online CPUs sit at the online state, offline ones at offline; cpuN/online agrees with the "
     "mask",
     StateMatchesOnline},
    {"removed-cpus-gone",
     "no cpuN directory for a CPU that is not present or whose slot is unplugged", RemovedCpusGone},
    {"states-stable", "hotplug/states equals the baseline table", StatesStable},
    {"agent-agrees", "guest-get-vcpus matches sysfs (online set, listing, can-offline)",
     AgentAgrees},
    {"cpuinfo-count", "/proc/cpuinfo lists as many processors as are online", CpuinfoCount},
    {"tasks-on-online-cpus",
     "a watched runnable task runs on an online CPU in its affinity (/proc/PID/stat field 39)",
     TasksOnOnlineCpus, "tasks"},
    {"tasks-affinity-online", "a watched task's Cpus_allowed_list has an online CPU",
     TasksAffinityOnline, "tasks"},
    {"irqs-on-online-cpus", "no IRQ's effective affinity includes a CPU that is not online",
     IrqsOnOnlineCpus, "irqs"},
    {"irq-counts-frozen", "per-CPU IRQ counts of a CPU offline since the last check do not grow",
     IrqCountsFrozen, "irqs"},
    {"cpuset-effective",
     "cgroup v2 cpuset.cpus.effective: the root's is the online mask, a child's is its cpus "
     "within the root's (or the root's when none is left)",
     CpusetEffective, "cpusets"},
    {"smt-control-honoured",
     "with smt/control off no secondary thread is online; smt/active says whether a core has two "
     "online threads",
     SmtControlHonoured, "smt"},
    {"numa-node",
     "each plugged CPU sits in the NUMA node QEMU gave its slot (cpuN/nodeM link, "
     "nodeM/cpulist)",
     NumaNode},
    {"libvirt-enabled-matches-slots",
     "libvirt's enabled vCPUs (live XML <vcpus>) are exactly QEMU's plugged slots, in libvirt's "
     "slot order",
     LibvirtEnabledMatchesSlots},
    {"libvirt-counts-match",
     "libvirt's live and maximum vCPU counts and <vcpu current> match QEMU's slots and the guest's "
     "present CPUs",
     LibvirtCountsMatch},
};

}  // namespace

const std::vector<std::string>& InvariantNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const auto& inv : kInvariants) out.push_back(inv.name);
    return out;
  }();
  return names;
}

std::string InvariantDescription(std::string_view name) {
  for (const auto& inv : kInvariants) {
    if (name == inv.name) return inv.description;
  }
  return "";
}

static bool DeepProbeOn(const DeepProbe& probe, std::string_view name) {
  if (name == "tasks") return probe.watch_tasks || !probe.tasks.empty();
  if (name == "irqs") return probe.irqs;
  if (name == "cpusets") return probe.cpusets;
  if (name == "smt") return probe.smt;
  return false;
}

std::string InvariantProbe(std::string_view name) {
  for (const auto& inv : kInvariants) {
    if (name == inv.name) return inv.probe ? inv.probe : "";
  }
  return "";
}

std::vector<std::string> PlainInvariantNames() {
  std::vector<std::string> out;
  for (const auto& inv : kInvariants) {
    if (!inv.probe) out.push_back(inv.name);
  }
  return out;
}

DeepProbe EffectiveProbe(const CheckOptions& options) {
  DeepProbe probe = options.deep;
  for (const auto& name : options.only) probe.Enable(InvariantProbe(name));
  return probe;
}

std::optional<IrqCountsBaseline> IrqCounts(const GuestSnapshot& guest) {
  if (!guest.deep || !guest.deep->irqs_read) return std::nullopt;
  IrqCountsBaseline out;
  out.online = guest.online;
  for (const auto& irq : guest.deep->irqs) out.counts[irq.irq] = irq.per_cpu_count;
  return out;
}

CheckResult RunChecks(const HostView& host, const GuestSnapshot& guest,
                      const CheckOptions& options) {
  for (const auto& name : options.only) {
    if (InvariantDescription(name).empty()) {
      throw Error("unknown invariant \"" + name + "\" (known: " + Join(InvariantNames()) + ")");
    }
  }
  CpuMapping mapping = MapCpus(host, guest);
  Context context{host, guest, options, mapping};
  CheckResult result;
  for (const auto& inv : kInvariants) {
    if (!options.only.empty() &&
        std::find(options.only.begin(), options.only.end(), inv.name) == options.only.end()) {
      continue;
    }
    // A deep invariant runs when its probe was asked for (or `only` names it).
    if (inv.probe && options.only.empty() && !DeepProbeOn(options.deep, inv.probe)) continue;
    Outcome outcome;
    inv.check(context, outcome);
    result.invariants.push_back(std::move(outcome).Finish(inv.name));
  }
  return result;
}

}  // namespace cpuhp
