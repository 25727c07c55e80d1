// Which guest CPU is which QEMU slot.
//
// The guest numbers CPUs in the order it brings them up, not by slot, so the
// checker matches them by what both sides agree on (x86):
// - the APIC id: QEMU derives it from the slot's props and the topology
//   counts; the guest shows it in /proc/cpuinfo (online CPUs only);
// - the ACPI processor device: QEMU names possible CPU i "\_SB.CPUS.C<hex i>"
//   (hw/acpi/cpu.c), its possible-CPU list being ordered by APIC id; the
//   guest links it as cpuN/firmware_node, online or not.
// The APIC id wins where both are known; a disagreement between them is for
// the "identity" invariant to report.
//
//   CpuMapping m = MapCpus(host, guest);
//   if (const SlotInfo* slot = m.SlotOf(3)) ... slot->slot.props ...
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "check/checker.h"

namespace cpuhp {

// QEMU's topology as its slots show it: each level's count is the largest
// id at that level plus one (a level without a prop counts 1).
TopologyShape TopologyOfSlots(const std::vector<HotpluggableCpu>& slots);

// The index in "\_SB_.CPUS.C00A" (10); nullopt for any other shape of path.
std::optional<int> AcpiCpuIndex(std::string_view firmware_node);

// One of QEMU's slots and what the guest should see of it.
struct SlotInfo {
  HotpluggableCpu slot;
  // Position in QEMU's possible-CPU list (APIC id order): the ACPI Cxxx.
  int index = -1;
  int apic_id = -1;
  // From query-cpus-fast, matched by qom-path, when plugged.
  std::optional<int> cpu_index;
  std::optional<int64_t> thread_id;
  // "socket-id=1,core-id=0,thread-id=1"
  std::string Describe() const;
};

// What each of a guest CPU's identifiers points at (positions in `slots`).
struct GuestMatch {
  std::optional<size_t> by_apic;
  std::optional<size_t> by_acpi;
  // The APIC id's slot if known, else the ACPI node's.
  std::optional<size_t> slot() const { return by_apic ? by_apic : by_acpi; }
};

struct CpuMapping {
  TopologyShape topology;
  // Every slot, in APIC id order (slots[i].index == i).
  std::vector<SlotInfo> slots;
  // For every guest cpuN directory in the snapshot.
  std::map<int, GuestMatch> guests;

  // The slot guest CPU `cpu` maps to, or nullptr.
  const SlotInfo* SlotOf(int cpu) const;
  // The guest CPUs mapped to slots[position].
  std::vector<int> GuestCpusOf(size_t position) const;
};

CpuMapping MapCpus(const HostView& host, const GuestSnapshot& guest);

nlohmann::json ToJson(const CpuMapping& mapping);

}  // namespace cpuhp
