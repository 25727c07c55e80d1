// Invariants that compare two moments of one guest rather than QEMU's view
// with the guest's: across a reboot (the reboot step) and across an
// online/offline the kernel was told to fail (the fail_at step). Pure, like
// RunChecks(): tests feed them fabricated snapshots.
//
//   CheckResult r = CheckReboot(host_before, host_after, guest_after);
//   if (!r.Passed()) ... r.Summary() ...   // "reboot-cpus-online: cpu3 ..."
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "check/checker.h"

namespace cpuhp {

// The names CheckReboot and CheckRollback report, in that order (also in
// docs/invariants.md, "Across a reboot" and "Fault injection").
const std::vector<std::string>& LifecycleInvariantNames();

// After a reboot (or system_reset) of the same QEMU:
// - reboot-slots-kept: QEMU's plugged slots are the ones plugged before
//   (QEMU keeps hot-plugged vCPUs across a reset, as hardware keeps them);
// - reboot-cpus-online: the guest booted every present CPU (the firmware's
//   MADT now lists the hot-plugged CPUs as enabled, and the kernel brings
//   up every enabled CPU at boot), so online equals present.
CheckResult CheckReboot(const HostView& before, const HostView& after,
                        const GuestSnapshot& guest);

// After an online or offline of `cpu` that failed at an injected state
// (cpuN/hotplug/fail):
// - rollback-state: cpuN/hotplug/{state,target} are back where they started;
// - rollback-masks: possible, present, online and offline are unchanged;
// - rollback-states-table: hotplug/states is unchanged;
// - rollback-fail-consumed: cpuN/hotplug/fail reads -1 again (the kernel
//   clears it when it injects the failure, so a value left means the
//   injected state was never reached).
CheckResult CheckRollback(const GuestSnapshot& before, const GuestSnapshot& after, int cpu);

// The state number `name` gives in `states`: a name from hotplug/states
// ("sched:active") or a number that is listed there. nullopt otherwise.
std::optional<int> ResolveHotplugState(const std::vector<HotplugState>& states,
                                       std::string_view name);

}  // namespace cpuhp
