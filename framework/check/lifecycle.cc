#include "check/lifecycle.h"

#include <charconv>
#include <set>

#include "check/outcome.h"
#include "util/text.h"

namespace cpuhp {
namespace {

constexpr char kSysfs[] = "guest /sys/devices/system/cpu/";

std::string Cpu(int id) { return "cpu" + std::to_string(id); }
std::string List(const CpuSet& set) { return set.Empty() ? "(none)" : set.ToString(); }

InvariantResult Finish(std::string name, std::vector<Finding> findings) {
  Outcome out;
  for (auto& f : findings) out.Fail(std::move(f));
  return std::move(out).Finish(std::move(name));
}

std::set<std::string> PluggedPaths(const HostView& host) {
  std::set<std::string> out;
  for (const auto& s : host.slots) {
    if (s.qom_path) out.insert(*s.qom_path + " (" + s.props.ToDeviceArgs() + ")");
  }
  return out;
}

std::string Optional(const std::optional<int>& v) { return v ? std::to_string(*v) : "absent"; }

}  // namespace

const std::vector<std::string>& LifecycleInvariantNames() {
  static const std::vector<std::string> names = {
      "reboot-slots-kept",  "reboot-cpus-online",    "rollback-state",
      "rollback-masks",     "rollback-states-table", "rollback-fail-consumed",
  };
  return names;
}

CheckResult CheckReboot(const HostView& before, const HostView& after,
                        const GuestSnapshot& guest) {
  CheckResult result;
  std::vector<Finding> kept;
  std::set<std::string> was = PluggedPaths(before), is = PluggedPaths(after);
  for (const auto& p : was) {
    if (!is.count(p)) kept.push_back({p, "gone after the reboot", "still plugged", "QMP query-hotpluggable-cpus"});
  }
  for (const auto& p : is) {
    if (!was.count(p)) kept.push_back({p, "plugged after the reboot only", "not plugged", "QMP query-hotpluggable-cpus"});
  }
  result.invariants.push_back(Finish("reboot-slots-kept", std::move(kept)));

  std::vector<Finding> online;
  if (guest.online != guest.present) {
    online.push_back({"online mask",
                      List(guest.online) + ", " + List(guest.present.Minus(guest.online)) +
                          " present but not brought up at boot",
                      "online == present " + List(guest.present),
                      std::string(kSysfs) + "{online,present}"});
  }
  result.invariants.push_back(Finish("reboot-cpus-online", std::move(online)));
  return result;
}

CheckResult CheckRollback(const GuestSnapshot& before, const GuestSnapshot& after, int cpu) {
  CheckResult result;
  const std::string hotplug = std::string(kSysfs) + Cpu(cpu) + "/hotplug/";
  const GuestCpu* b = before.Cpu(cpu);
  const GuestCpu* a = after.Cpu(cpu);

  std::vector<Finding> state;
  if (!a) {
    state.push_back({Cpu(cpu), "no cpuN directory after the failed transition", "still there",
                     std::string(kSysfs)});
  } else if (b) {
    if (a->hotplug_state != b->hotplug_state) {
      state.push_back({Cpu(cpu), "hotplug/state=" + Optional(a->hotplug_state),
                       "the state before, " + Optional(b->hotplug_state), hotplug + "state"});
    }
    if (a->hotplug_target != b->hotplug_target) {
      state.push_back({Cpu(cpu), "hotplug/target=" + Optional(a->hotplug_target),
                       "the target before, " + Optional(b->hotplug_target), hotplug + "target"});
    }
    if (a->online != b->online) {
      state.push_back({Cpu(cpu), std::string("online=") + (a->online.value_or(true) ? "1" : "0"),
                       std::string("online=") + (b->online.value_or(true) ? "1" : "0") + " as before",
                       std::string(kSysfs) + Cpu(cpu) + "/online"});
    }
  }
  result.invariants.push_back(Finish("rollback-state", std::move(state)));

  std::vector<Finding> masks;
  for (auto [name, member] : {std::pair{"possible", &GuestSnapshot::possible},
                              {"present", &GuestSnapshot::present},
                              {"online", &GuestSnapshot::online},
                              {"offline", &GuestSnapshot::offline}}) {
    if (after.*member != before.*member) {
      masks.push_back({std::string(name) + " mask", List(after.*member),
                       "unchanged, " + List(before.*member), std::string(kSysfs) + name});
    }
  }
  result.invariants.push_back(Finish("rollback-masks", std::move(masks)));

  std::vector<Finding> table;
  if (after.states != before.states) {
    table.push_back({"hotplug/states",
                     std::to_string(after.states.size()) + " entries, differing from before",
                     "unchanged (" + std::to_string(before.states.size()) + " entries)",
                     std::string(kSysfs) + "hotplug/states"});
  }
  result.invariants.push_back(Finish("rollback-states-table", std::move(table)));

  std::vector<Finding> consumed;
  if (a && a->hotplug_fail && *a->hotplug_fail != -1) {
    consumed.push_back({Cpu(cpu), "hotplug/fail=" + std::to_string(*a->hotplug_fail),
                        "-1 (the kernel clears it when it injects the failure)", hotplug + "fail"});
  }
  result.invariants.push_back(Finish("rollback-fail-consumed", std::move(consumed)));
  return result;
}

std::optional<int> ResolveHotplugState(const std::vector<HotplugState>& states,
                                       std::string_view name) {
  int number = 0;
  auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), number);
  bool numeric = ec == std::errc() && end == name.data() + name.size();
  for (const auto& s : states) {
    if (numeric ? s.number == number : s.name == name) return s.number;
  }
  return std::nullopt;
}

}  // namespace cpuhp
