// What changed across a migration hop: QEMU's view and the guest's.
#include <map>
#include <set>
#include <sstream>

#include "vm/migration.h"

namespace cpuhp {
namespace {

std::string Opt(const std::optional<int>& v) { return v ? std::to_string(*v) : "absent"; }
std::string Opt(const std::optional<bool>& v) { return v ? (*v ? "1" : "0") : "absent"; }
std::string Mask(const CpuSet& s) { return s.Empty() ? "(empty)" : s.ToString(); }

std::string Describe(const std::optional<CpuTopology>& t) {
  if (!t) return "absent";
  std::ostringstream o;
  o << "package " << t->physical_package_id << " die " << t->die_id << " core " << t->core_id
    << " siblings " << Mask(t->thread_siblings) << " core_cpus " << Mask(t->core_cpus);
  return o.str();
}

std::string Describe(const HotpluggableCpu& slot) {
  return slot.type + (slot.qom_path ? " plugged as " + *slot.qom_path : " free") +
         (slot.vcpus_count != 1 ? " (" + std::to_string(slot.vcpus_count) + " vcpus)" : "");
}

template <typename T>
void Field(std::vector<std::string>& out, const std::string& what, const T& before,
           const T& after) {
  if (before != after) out.push_back(what + ": " + before + " before, " + after + " after");
}

}  // namespace

std::vector<std::string> CompareHostViews(const HostView& before, const HostView& after) {
  std::vector<std::string> out;
  std::map<std::string, const HotpluggableCpu*> b, a;
  for (const auto& s : before.slots) b[s.props.ToDeviceArgs()] = &s;
  for (const auto& s : after.slots) a[s.props.ToDeviceArgs()] = &s;
  for (const auto& [props, slot] : b) {
    auto it = a.find(props);
    if (it == a.end()) {
      out.push_back("slot " + props + ": " + Describe(*slot) + " before, no such slot after");
    } else if (!(*slot == *it->second)) {
      out.push_back("slot " + props + ": " + Describe(*slot) + " before, " +
                    Describe(*it->second) + " after");
    }
  }
  for (const auto& [props, slot] : a) {
    if (!b.count(props)) out.push_back("slot " + props + ": no such slot before, " + Describe(*slot) + " after");
  }

  if (before.smp && after.smp && !(*before.smp == *after.smp)) {
    out.push_back("machine smp: " + before.smp->ToQemuArg() + " before, " +
                  after.smp->ToQemuArg() + " after");
  }

  std::map<int, const CpuInfoFast*> cb, ca;
  for (const auto& c : before.cpus) cb[c.cpu_index] = &c;
  for (const auto& c : after.cpus) ca[c.cpu_index] = &c;
  for (const auto& [index, cpu] : cb) {
    std::string what = "query-cpus-fast cpu-index " + std::to_string(index);
    auto it = ca.find(index);
    if (it == ca.end()) {
      out.push_back(what + ": " + cpu->qom_path + " before, absent after");
      continue;
    }
    Field(out, what + " qom-path", cpu->qom_path, it->second->qom_path);
    Field(out, what + " props", cpu->props.ToDeviceArgs(), it->second->props.ToDeviceArgs());
  }
  for (const auto& [index, cpu] : ca) {
    if (!cb.count(index)) {
      out.push_back("query-cpus-fast cpu-index " + std::to_string(index) + ": absent before, " +
                    cpu->qom_path + " after");
    }
  }
  return out;
}

std::vector<std::string> CompareGuestSnapshots(const GuestSnapshot& before,
                                               const GuestSnapshot& after) {
  std::vector<std::string> out;
  Field(out, "guest possible", Mask(before.possible), Mask(after.possible));
  Field(out, "guest present", Mask(before.present), Mask(after.present));
  Field(out, "guest online", Mask(before.online), Mask(after.online));
  Field(out, "guest offline", Mask(before.offline), Mask(after.offline));
  Field(out, "guest kernel_max", std::to_string(before.kernel_max), std::to_string(after.kernel_max));

  std::set<int> ids;
  for (const auto& [id, cpu] : before.cpus) ids.insert(id);
  for (const auto& [id, cpu] : after.cpus) ids.insert(id);
  for (int id : ids) {
    std::string cpu_name = "guest cpu" + std::to_string(id);
    const GuestCpu* b = before.Cpu(id);
    const GuestCpu* a = after.Cpu(id);
    if (!b || !a) {
      out.push_back(cpu_name + ": " + (b ? "present" : "absent") + " before, " +
                    (a ? "present" : "absent") + " after");
      continue;
    }
    Field(out, cpu_name + " online", Opt(b->online), Opt(a->online));
    Field(out, cpu_name + " topology", Describe(b->topology), Describe(a->topology));
    Field(out, cpu_name + " apicid", Opt(b->apic_id), Opt(a->apic_id));
    Field(out, cpu_name + " hotplug/state", Opt(b->hotplug_state), Opt(a->hotplug_state));
    Field(out, cpu_name + " hotplug/target", Opt(b->hotplug_target), Opt(a->hotplug_target));
    Field(out, cpu_name + " hotplug/fail", Opt(b->hotplug_fail), Opt(a->hotplug_fail));
  }

  if (before.states != after.states) {
    std::string detail = std::to_string(before.states.size()) + " states before, " +
                         std::to_string(after.states.size()) + " after";
    for (size_t i = 0; i < std::min(before.states.size(), after.states.size()); ++i) {
      if (!(before.states[i] == after.states[i])) {
        detail += "; first difference: \"" + std::to_string(before.states[i].number) + ": " +
                  before.states[i].name + "\" before, \"" +
                  std::to_string(after.states[i].number) + ": " + after.states[i].name +
                  "\" after";
        break;
      }
    }
    out.push_back("guest hotplug/states: " + detail);
  }
  Field(out, "guest /proc/cpuinfo processors", std::to_string(before.cpuinfo_processors),
        std::to_string(after.cpuinfo_processors));

  auto vcpus = [](const std::vector<GuestVcpu>& v) {
    std::map<int, std::string> m;
    for (const auto& c : v) {
      m[c.logical_id] = std::string(c.online ? "online" : "offline") +
                        (c.can_offline ? "" : ",fixed");
    }
    return m;
  };
  auto vb = vcpus(before.agent_vcpus), va = vcpus(after.agent_vcpus);
  std::set<int> vids;
  for (const auto& [id, s] : vb) vids.insert(id);
  for (const auto& [id, s] : va) vids.insert(id);
  for (int id : vids) {
    auto ib = vb.find(id), ia = va.find(id);
    Field(out, "guest-get-vcpus logical-id " + std::to_string(id),
          ib == vb.end() ? std::string("absent") : ib->second,
          ia == va.end() ? std::string("absent") : ia->second);
  }
  return out;
}

}  // namespace cpuhp
