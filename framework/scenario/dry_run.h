// A dry run of a scenario's steps against the slots its topology offers,
// before any VM starts.
//
// It tracks which slots are taken (boot CPUs, then each plug and unplug) and
// which device ids exist, and rejects steps that cannot succeed outside
// expect_error/expect_failure: plugging beyond maxcpus or into a taken slot,
// an explicit address QEMU would refuse, unplugging an id never plugged or
// the boot CPU, offlining cpu0, stopping a guest load that is not running.
// What only the guest can tell (which CPUs are online) is left to run time.
#pragma once

#include "scenario/scenario.h"

namespace cpuhp {

// Throws ScenarioError at the offending step's key.
void DryRun(const ScenarioRun& run);

}  // namespace cpuhp
