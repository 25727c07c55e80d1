// The checker on a running Vm: read both views, evaluate, and poll
// until the guest has settled.
#include <algorithm>

#include "check/checker.h"
#include "util/log.h"
#include "util/wait.h"
#include "vm/vm.h"

namespace cpuhp {
namespace {

// Nothing in the guest announces that a transition finished: poll, bounded.
constexpr milliseconds kSettlePollInterval{200};

}  // namespace

CheckResult CheckMachine(Vm& vm, const CheckOptions& options) {
  CheckOptions effective = options;
  if (effective.smp == SmpTopology{}) effective.smp = vm.spec().smp;
  try {
    HostView host = ReadHostView(vm.Qmp());
    GuestSnapshot guest = ReadGuestSnapshot(vm.Agent());
    return RunChecks(host, guest, effective);
  } catch (Error& e) {
    e.AddContext("while checking QEMU's and the guest's CPU views");
    vm.AddContext(e);
    throw;
  }
}

CheckResult CheckUntilConsistent(Vm& vm, const CheckOptions& options,
                                 const Deadline& deadline) {
  int attempts = 0;
  CheckResult result;
  bool passed = WaitUntil(deadline, kSettlePollInterval, [&] {
    result = CheckMachine(vm, options);
    if (!result.Passed() && ++attempts > 1) {
      LOG(kDebug, "check") << vm.name() << ": not settled yet (check " << attempts
                           << "): " << result.Summary();
    }
    return result.Passed();
  });
  if (!passed) {
    LOG(kInfo, "check") << vm.name() << ": still inconsistent after " << attempts << " checks:\n"
                        << result.Summary();
  }
  return result;
}

}  // namespace cpuhp
