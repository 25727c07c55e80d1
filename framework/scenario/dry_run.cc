#include "scenario/dry_run.h"

#include <algorithm>
#include <set>

#include "scenario/topology.h"

namespace cpuhp {
namespace {

class DryRunner {
 public:
  DryRunner(const ResolvedTopology& topo, int boot_plugs, DryRunBudget& budget)
      : topo_(topo), budget_(budget), boot_plugs_(boot_plugs) {
    occupant_.assign(topo.maxcpus, "");
    for (int i = 0; i < topo.cpus; ++i)
      occupant_[i] = i == 0 ? "the boot CPU" : "boot CPU " + std::to_string(i);
    free_ = topo.maxcpus - topo.cpus;
    // machine.boot_plugs takes the lowest free slots while the guest boots
    // (RunBootPlugs), under the ids a hotplug step would give them.
    for (int i = 0, plugged = 0; i < topo.maxcpus && plugged < boot_plugs; ++i) {
      if (!occupant_[i].empty()) continue;
      Plug(i, SlotDeviceId(topo.SlotProps(i)));
      ++plugged;
    }
  }

  void Run(const std::vector<Step>& steps, bool expected_to_fail, const std::string& context) {
    for (const auto& step : steps) RunStep(step, expected_to_fail, context);
  }

 private:
  [[noreturn]] void Fail(const Step& step, const std::string& field, const std::string& message,
                         const std::string& context) {
    std::string key = step.path + "." + StepKindName(step.kind);
    if (!field.empty() && step.field_where.count(field)) key += "." + field;
    throw ScenarioError(FieldWhere(step, field), key + ": " + message + context);
  }

  // What a repeat compares before and after an iteration. The boot CPUs
  // still present are implied: they only ever go, so with the same plugged
  // CPUs and the same number of free slots they are the same ones.
  struct State {
    std::vector<std::pair<std::string, int>> plugged;
    int free = 0;
    bool load_running = false;
    bool operator==(const State&) const = default;
  };
  State Snapshot() const { return {plugged_, free_, load_running_}; }

  void Spend(long units, const Step& step, const std::string& context) {
    budget_.left -= units;
    if (budget_.left < 0) {
      Fail(step, "",
           "the dry run needs more than " + std::to_string(kMaxDryRunWork) +
               " steps and slot changes (repeats multiply their bodies, and every run of a "
               "matrix counts); at most " +
               std::to_string(kMaxDryRunWork) + ": use fewer iterations or a shorter body",
           context);
    }
  }

  int FreeCount() const { return free_; }

  std::string Occupancy() const {
    return "maxcpus " + std::to_string(topo_.maxcpus) + ", " + std::to_string(topo_.cpus) +
           " boot CPU" + (topo_.cpus == 1 ? "" : "s") + ", " + std::to_string(plugged_.size()) +
           " hot-plugged" +
           (boot_plugs_ > 0 ? " (" + std::to_string(boot_plugs_) + " by machine.boot_plugs)" : "");
  }

  void Plug(int index, const std::string& id) {
    occupant_[index] = id;
    plugged_.push_back({id, index});
    plugged_ids_.insert(id);
    --free_;
  }

  void Vacate(int index) {
    if (!occupant_[index].empty()) ++free_;
    occupant_[index] = "";
  }

  // Unplugs the hot-plugged CPU at `it` in plugged_; returns the next.
  std::vector<std::pair<std::string, int>>::iterator UnplugAt(
      std::vector<std::pair<std::string, int>>::iterator it) {
    Vacate(it->second);
    plugged_ids_.erase(it->first);
    return plugged_.erase(it);
  }

  void RunStep(const Step& step, bool expected, const std::string& context) {
    Spend(1, step, context);
    switch (step.kind) {
      case StepKind::kHotplug:
        return Hotplug(step, std::get<HotplugStep>(step.params), expected, context);
      case StepKind::kUnplug:
        return Unplug(step, std::get<UnplugStep>(step.params), expected, context);
      case StepKind::kOnline:
      case StepKind::kOffline:
        return SetOnline(step, std::get<SetOnlineStep>(step.params), expected, context);
      case StepKind::kExpectError:
        return Run(std::get<ExpectErrorStep>(step.params).step, true, context);
      case StepKind::kExpectFailure:
        return Run(std::get<ExpectFailureStep>(step.params).step, true, context);
      case StepKind::kMigrate: {
        const auto& m = std::get<MigrateStep>(step.params);
        for (const auto& id : m.options.omit_cpu_devices) {
          if (!IsPlugged(id)) {
            Fail(step, "omit_cpu_devices",
                 "omit_cpu_devices names '" + id + "', but no CPU with that id is plugged here" +
                     PluggedList(),
                 context);
          }
        }
        return;
      }
      case StepKind::kGuestLoad: {
        const auto& g = std::get<GuestLoadStep>(step.params);
        if (g.stop && !load_running_ && !expected) {
          Fail(step, "", "there is no guest load running to stop", context);
        }
        if (!g.stop && load_running_ && !expected) {
          Fail(step, "", "a guest load is already running; stop it first", context);
        }
        if (!expected) load_running_ = !g.stop;
        return;
      }
      case StepKind::kRepeat: {
        const auto& r = std::get<RepeatStep>(step.params);
        // Enough iterations to catch a body that leaks slots; time-bound
        // repeats run at least twice.
        int iterations = r.times > 0 ? std::min(r.times, topo_.maxcpus + 2) : 2;
        for (int i = 1; i <= iterations; ++i) {
          Spend(static_cast<long>(plugged_.size()), step, context);
          State before = Snapshot();
          Run(r.steps, expected,
              context + " (in iteration " + std::to_string(i) + " of the repeat at line " +
                  std::to_string(step.where.line) + ")");
          // The body is deterministic: from the same state it does the same again.
          if (Snapshot() == before) break;
        }
        return;
      }
      case StepKind::kReboot:
        // The guest's processes end with it; QEMU keeps the plugged CPUs.
        if (!expected) load_running_ = false;
        return;
      case StepKind::kCheck:
      case StepKind::kSleep:
      case StepKind::kWaitForConsole:
      case StepKind::kCgroup:
      case StepKind::kSmt:
      case StepKind::kFailAt:
        return;
    }
  }

  bool IsPlugged(const std::string& id) const { return plugged_ids_.count(id) > 0; }

  std::string PluggedList() const {
    if (plugged_.empty()) return " (none is hot-plugged at this point)";
    std::string out;
    for (const auto& [id, index] : plugged_) out += (out.empty() ? "" : ", ") + id;
    return " (plugged: " + out + ")";
  }

  void Hotplug(const Step& step, const HotplugStep& h, bool expected, const std::string& context) {
    if (h.props) {
      const CpuProps& p = *h.props;
      std::vector<std::string> missing;
      if (!p.socket_id) missing.push_back("socket");
      if (topo_.dies > 1 && !p.die_id) missing.push_back("die");
      if (!p.core_id) missing.push_back("core");
      if (!p.thread_id) missing.push_back("thread");
      if (!missing.empty() && !expected) {
        std::string list;
        for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
        Fail(step, "",
             "an explicit CPU needs its full address; missing: " + list +
                 " (QEMU refuses a partial one)",
             context);
      }
      if (p.die_id && topo_.dies == 1 && !expected) {
        Fail(step, "die", "the topology has no dies (dies=1): leave 'die' out", context);
      }
      std::optional<int> index = topo_.SlotIndex(p);
      std::string where = DescribeProps(p);
      if (!index) {
        if (expected) return;
        Fail(step, "socket",
             "there is no slot at " + where + ": the topology has sockets 0-" +
                 std::to_string(topo_.sockets - 1) +
                 (topo_.dies > 1 ? ", dies 0-" + std::to_string(topo_.dies - 1) : "") +
                 ", cores 0-" + std::to_string(topo_.cores - 1) + ", threads 0-" +
                 std::to_string(topo_.threads - 1) + " (maxcpus " + std::to_string(topo_.maxcpus) +
                 "); to test that QEMU refuses it, wrap the step in expect_error",
             context);
      }
      if (!occupant_[*index].empty()) {
        if (expected) return;
        Fail(step, "socket",
             "the slot at " + where + " is already taken by " + occupant_[*index] +
                 "; to test that QEMU refuses it, wrap the step in expect_error",
             context);
      }
      std::string id = h.id.value_or(SlotDeviceId(topo_.SlotProps(*index)));
      if (IsPlugged(id)) {
        if (expected) return;
        Fail(step, "id", "a CPU with id '" + id + "' is already plugged", context);
      }
      if (!expected) Plug(*index, id);
      return;
    }
    int free = FreeCount();
    int n = h.max ? free : h.count;
    if (h.max && free == 0 && !expected) {
      Fail(step, "count", "count: max, but every slot is already taken (" + Occupancy() + ")",
           context);
    }
    if (n > free) {
      if (expected) return;
      Fail(step, "count",
           "cannot plug " + std::to_string(n) + " CPU" + (n == 1 ? "" : "s") + ": only " +
               std::to_string(free) + " slot" + (free == 1 ? " is" : "s are") + " free here (" +
               Occupancy() + ")",
           context);
    }
    if (expected) return;
    Spend(n, step, context);
    for (int i = 0, plugged = 0; i < topo_.maxcpus && plugged < n; ++i) {
      if (!occupant_[i].empty()) continue;
      std::string id = h.id.value_or(SlotDeviceId(topo_.SlotProps(i)));
      if (IsPlugged(id)) Fail(step, "id", "a CPU with id '" + id + "' is already plugged", context);
      Plug(i, id);
      ++plugged;
    }
  }

  void Unplug(const Step& step, const UnplugStep& u, bool expected, const std::string& context) {
    if (u.all) {
      if (!expected) {
        Spend(static_cast<long>(plugged_.size()), step, context);
        for (const auto& [id, index] : plugged_) Vacate(index);
        plugged_.clear();
        plugged_ids_.clear();
      }
      return;
    }
    if (u.count > 0) {
      if (u.count > static_cast<int>(plugged_.size())) {
        if (expected) return;
        Fail(step, "count",
             "cannot unplug " + std::to_string(u.count) + " CPU" + (u.count == 1 ? "" : "s") +
                 ": only " + std::to_string(plugged_.size()) + " hot-plugged CPU" +
                 (plugged_.size() == 1 ? " is" : "s are") +
                 " there (boot CPUs are unplugged by socket/core/thread)",
             context);
      }
      if (expected) return;
      Spend(u.count, step, context);
      for (int i = 0; i < u.count; ++i) UnplugAt(std::prev(plugged_.end()));
      return;
    }
    std::set<std::string> named;
    for (const auto& id : u.ids) {
      if (!named.insert(id).second) {
        Fail(step, "id", "'" + id + "' is listed twice: a CPU can be unplugged once", context);
      }
      if (!IsPlugged(id)) {
        if (expected) return;
        Fail(step, "id", "no CPU with id '" + id + "' is plugged at this step" + PluggedList(),
             context);
      }
    }
    if (!expected) {
      Spend(static_cast<long>(u.ids.size()), step, context);
      for (const auto& id : u.ids) {
        auto it = std::find_if(plugged_.begin(), plugged_.end(),
                               [&](const auto& p) { return p.first == id; });
        UnplugAt(it);
      }
    }
    if (u.props) {
      std::optional<int> index = topo_.SlotIndex(*u.props);
      std::string where = DescribeProps(*u.props);
      if (!index) {
        if (expected) return;
        Fail(step, "socket", "there is no slot at " + where, context);
      }
      if (*index == 0) {
        if (expected) return;
        Fail(step, "socket",
             "the CPU at " + where +
                 " is the boot CPU, which cannot be unplugged; to test that "
                 "QEMU refuses it, wrap the step in expect_error {class: GenericError}",
             context);
      }
      if (occupant_[*index].empty()) {
        if (expected) return;
        Fail(step, "socket", "no CPU is plugged at " + where + " at this step", context);
      }
      if (expected) return;
      Vacate(*index);
      for (auto it = plugged_.begin(); it != plugged_.end();) {
        it = it->second == *index ? UnplugAt(it) : std::next(it);
      }
    }
  }

  void SetOnline(const Step& step, const SetOnlineStep& s, bool expected,
                 const std::string& context) {
    if (expected) return;
    for (int cpu : s.cpus) {
      if (cpu >= topo_.maxcpus) {
        Fail(step, "cpus",
             "cpu" + std::to_string(cpu) + " cannot exist: maxcpus is " +
                 std::to_string(topo_.maxcpus),
             context);
      }
    }
    if (!s.online && s.cpus.Contains(0)) {
      Fail(step, "cpus",
           "cpu0 cannot be taken offline on x86; to test that the guest refuses it, wrap the "
           "step in expect_error",
           context);
    }
    if (s.count >= topo_.maxcpus && !s.online) {
      Fail(step, "count",
           "cannot offline " + std::to_string(s.count) + " CPUs: at most maxcpus - 1 = " +
               std::to_string(topo_.maxcpus - 1) + " can be offline (cpu0 stays)",
           context);
    }
  }

  const ResolvedTopology& topo_;
  DryRunBudget& budget_;
  std::vector<std::string> occupant_;                 // by slot index; "" when free
  int free_ = 0;                                      // the ""s in occupant_
  std::vector<std::pair<std::string, int>> plugged_;  // id, slot index; in plug order
  std::set<std::string> plugged_ids_;                 // the ids in plugged_
  bool load_running_ = false;
  int boot_plugs_ = 0;  // machine.boot_plugs.count
};

}  // namespace

void DryRun(const ScenarioRun& run, DryRunBudget& budget) {
  std::string problem;
  auto topo = ResolveTopology(run.machine.spec.smp, &problem);
  if (!topo) throw ScenarioError(run.where, "machine.smp: impossible topology: " + problem);
  DryRunner(*topo, run.machine.boot_plugs.count, budget).Run(run.steps, false, "");
}

void DryRun(const ScenarioRun& run) {
  DryRunBudget budget;
  DryRun(run, budget);
}

}  // namespace cpuhp
