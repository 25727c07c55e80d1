// A dry run of a scenario's steps against the slots its topology offers,
// before any VM starts.
//
// It tracks which slots are taken (boot CPUs, then each plug and unplug) and
// which device ids exist, and rejects steps that cannot succeed outside
// expect_error/expect_failure: plugging beyond maxcpus or into a taken slot,
// an explicit address QEMU would refuse, unplugging an id never plugged or
// the boot CPU, offlining cpu0, stopping a guest load that is not running.
// What only the guest can tell (which CPUs are online) is left to run time.
//
// A repeat is simulated min(times, maxcpus + 2) times (enough for a body that
// leaks a slot per iteration to run out), but stops as soon as an iteration
// leaves the slots exactly as it found them: the next would do the same.
#pragma once

#include "scenario/scenario.h"

namespace cpuhp {

// The most work the dry runs of one file may do: one unit per simulated step,
// per CPU it plugs or unplugs, and per hot-plugged CPU compared when a repeat
// checks whether its body left the slots as it found them. Nested repeats
// multiply (five levels of 1000 used to mean 290^5 steps); ten million units
// are a fraction of a second, and hundreds of times what a scenario that
// plugs every one of 1024 slots one by one needs.
inline constexpr long kMaxDryRunWork = 10'000'000;

// What is left of kMaxDryRunWork; one per file, shared by its matrix runs.
struct DryRunBudget {
  long left = kMaxDryRunWork;
};

// Throws ScenarioError at the offending step's key, or where the budget runs out.
void DryRun(const ScenarioRun& run, DryRunBudget& budget);
void DryRun(const ScenarioRun& run);  // with a budget of its own

}  // namespace cpuhp
