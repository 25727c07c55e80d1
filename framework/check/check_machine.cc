// The checker on a running Vm: read both views, evaluate, and poll
// until the guest has settled.
#include <algorithm>
#include <optional>
#include <string>

#include "check/checker.h"
#include "util/log.h"
#include "util/wait.h"
#include "vm/vm.h"

namespace cpuhp {
namespace {

// Nothing in the guest announces that a transition finished: poll, bounded.
constexpr milliseconds kSettlePollInterval{200};
constexpr int kStableReadings = 3;
constexpr milliseconds kStableSpan{2000};

}  // namespace

namespace {

// Both views read and checked, and what they were, so that a caller can
// tell whether anything changed between two readings.
CheckResult ReadAndCheck(Vm& vm, const CheckOptions& options, std::string* views) {
  CheckOptions effective = options;
  if (effective.smp == SmpTopology{}) effective.smp = vm.spec().smp;
  try {
    HostView host = ReadHostView(vm.Qmp());
    host.libvirt = vm.ReadBackendView();
    GuestSnapshot guest =
        ReadGuestSnapshot(vm.Agent(), Deadline::After(kAgentTimeout * 4), EffectiveProbe(effective));
    if (views) {
      nlohmann::json g = ToJson(guest);
      // IRQ counts grow on every timer tick: they are not what "the views
      // stopped changing" is about.
      if (g.contains("deep") && g["deep"].contains("irqs")) {
        for (auto& irq : g["deep"]["irqs"]) irq.erase("per_cpu_count");
      }
      *views = ToJson(host).dump() + "\n" + g.dump();
    }
    CheckResult result = RunChecks(host, guest, effective);
    result.irq_counts = IrqCounts(guest);
    if (guest.deep) result.deep_view = ToJson(*guest.deep);
    return result;
  } catch (Error& e) {
    e.AddContext("while checking QEMU's and the guest's CPU views");
    vm.AddContext(e);
    throw;
  }
}

}  // namespace

CheckResult CheckMachine(Vm& vm, const CheckOptions& options) {
  return ReadAndCheck(vm, options, nullptr);
}

CheckResult CheckUntilConsistent(Vm& vm, const CheckOptions& options,
                                 const Deadline& deadline) {
  int attempts = 0;
  CheckResult result;
  // A failing check whose views have stopped changing will not pass by
  // waiting: the readings that must agree are the same ones, read again.
  // It reports once kStableReadings identical readings span kStableSpan
  // (scaled like every deadline, for slow hosts) instead of at the deadline.
  std::string last_views;
  int same = 0;
  std::optional<Deadline> stable_at;
  bool stable = false;
  bool passed = WaitUntil(deadline, kSettlePollInterval, [&] {
    std::string views;
    result = ReadAndCheck(vm, options, &views);
    ++attempts;
    if (result.Passed()) return true;
    if (views == last_views) {
      ++same;
    } else {
      last_views = std::move(views);
      same = 1;
      stable_at = Deadline::After(kStableSpan);
    }
    LOG(kDebug, "check") << vm.name() << ": not settled yet (check " << attempts
                         << ", unchanged for " << same << "): " << result.Summary();
    stable = same >= kStableReadings && stable_at->Expired();
    return stable;
  });
  result.readings = attempts;
  result.stopped_unchanged = stable;
  if (!passed) {
    LOG(kInfo, "check") << vm.name() << ": still inconsistent after " << attempts << " checks:\n"
                        << result.Summary();
  } else if (stable) {
    LOG(kInfo, "check") << vm.name() << ": inconsistent and unchanged over " << same
                        << " readings; reporting before the deadline:\n"
                        << result.Summary();
  }
  return result;
}

}  // namespace cpuhp
