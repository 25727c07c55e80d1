#include "check/cpu_mapping.h"

#include <algorithm>
#include <bit>
#include <charconv>
#include <tuple>

namespace cpuhp {

TopologyShape TopologyOfSlots(const std::vector<HotpluggableCpu>& slots) {
  TopologyShape t;
  for (const auto& s : slots) {
    t.sockets = std::max(t.sockets, s.props.socket_id.value_or(0) + 1);
    t.dies = std::max(t.dies, s.props.die_id.value_or(0) + 1);
    t.cores = std::max(t.cores, s.props.core_id.value_or(0) + 1);
    t.threads = std::max(t.threads, s.props.thread_id.value_or(0) + 1);
  }
  return t;
}

std::optional<int> AcpiCpuIndex(std::string_view path) {
  // QEMU's CPU_NAME_FMT is "C%.03X" under the CPUS container; the kernel
  // shows the path with its 4-character segments ("\_SB_.CPUS.C00A").
  size_t dot = path.rfind('.');
  if (dot == std::string_view::npos || path.substr(0, dot).find("CPUS") == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view name = path.substr(dot + 1);
  if (name.size() < 2 || name.front() != 'C') return std::nullopt;
  name.remove_prefix(1);
  int index = -1;
  auto [ptr, ec] = std::from_chars(name.data(), name.data() + name.size(), index, 16);
  if (ec != std::errc() || ptr != name.data() + name.size()) return std::nullopt;
  return index;
}

std::string SlotInfo::Describe() const {
  std::string props = slot.props.ToDeviceArgs();
  return props.empty() ? "slot " + std::to_string(index) : props;
}

const SlotInfo* CpuMapping::SlotOf(int cpu) const {
  auto it = guests.find(cpu);
  if (it == guests.end()) return nullptr;
  auto position = it->second.slot();
  return position ? &slots[*position] : nullptr;
}

std::vector<int> CpuMapping::GuestCpusOf(size_t position) const {
  std::vector<int> out;
  for (const auto& [cpu, match] : guests) {
    if (match.slot() == position) out.push_back(cpu);
  }
  return out;
}

CpuMapping MapCpus(const HostView& host, const GuestSnapshot& guest) {
  CpuMapping m;
  m.topology = TopologyOfSlots(host.slots);
  for (const auto& s : host.slots) {
    SlotInfo info;
    info.slot = s;
    info.apic_id = m.topology.ApicId(s.props);
    for (const auto& c : host.cpus) {
      if (s.qom_path && c.qom_path == *s.qom_path) {
        info.cpu_index = c.cpu_index;
        info.thread_id = c.thread_id;
      }
    }
    m.slots.push_back(std::move(info));
  }
  // QEMU lists slots newest-first; its possible-CPU list (and so the ACPI
  // names) runs in APIC id order.
  std::stable_sort(m.slots.begin(), m.slots.end(),
                   [](const SlotInfo& a, const SlotInfo& b) { return a.apic_id < b.apic_id; });
  for (size_t i = 0; i < m.slots.size(); ++i) m.slots[i].index = static_cast<int>(i);

  for (const auto& [id, cpu] : guest.cpus) {
    GuestMatch match;
    if (cpu.apic_id) {
      for (size_t i = 0; i < m.slots.size(); ++i) {
        if (m.slots[i].apic_id == *cpu.apic_id) match.by_apic = i;
      }
    }
    if (cpu.firmware_node) {
      auto index = AcpiCpuIndex(*cpu.firmware_node);
      if (index && *index >= 0 && static_cast<size_t>(*index) < m.slots.size()) {
        match.by_acpi = static_cast<size_t>(*index);
      }
    }
    m.guests[id] = match;
  }
  return m;
}

nlohmann::json ToJson(const CpuMapping& m) {
  nlohmann::json slots = nlohmann::json::array();
  for (size_t i = 0; i < m.slots.size(); ++i) {
    const SlotInfo& s = m.slots[i];
    nlohmann::json guests = nlohmann::json::array();
    for (int cpu : m.GuestCpusOf(i)) guests.push_back(cpu);
    slots.push_back({{"index", s.index},
                     {"props", s.slot.props.ToJson()},
                     {"apic_id", s.apic_id},
                     {"qom-path", s.slot.qom_path ? nlohmann::json(*s.slot.qom_path) : nullptr},
                     {"cpu-index", s.cpu_index ? nlohmann::json(*s.cpu_index) : nullptr},
                     {"guest_cpus", guests}});
  }
  auto position = [](std::optional<size_t> p) -> nlohmann::json {
    if (p) return *p;
    return nullptr;
  };
  nlohmann::json guests = nlohmann::json::array();
  for (const auto& [cpu, match] : m.guests) {
    guests.push_back({{"cpu", cpu},
                      {"slot_by_apic_id", position(match.by_apic)},
                      {"slot_by_acpi_node", position(match.by_acpi)}});
  }
  return {{"topology",
           {{"sockets", m.topology.sockets},
            {"dies", m.topology.dies},
            {"cores", m.topology.cores},
            {"threads", m.topology.threads}}},
          {"slots", slots},
          {"guests", guests}};
}

}  // namespace cpuhp
