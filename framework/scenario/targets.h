// The stacks a run is repeated on: `cpuhp run --target qemu=7.2,10.0
// --target kernel=6.1,6.12` runs every scenario run on every combination,
// each with its own label ("smoke@qemu=10.0,kernel=6.12") and artifacts.
#pragma once

#include <string>
#include <vector>

#include "scenario/scenario.h"

namespace cpuhp {

struct TargetAxis {
  std::string name;                 // "qemu" or "kernel"
  std::vector<std::string> values;  // "7.2", "10.0" (kit names, or paths)
};

// The axes there are.
inline constexpr const char* kTargetAxisNames[] = {"qemu", "kernel", "masquerade"};

// Every run on every combination of the axes (first axis slowest, each
// run's combinations together), the machine resolved for it: qemu through
// ResolveQemuBinary, kernel through GuestKit::Find, masquerade (none, vmware)
// through ApplyMasquerade. A run whose scenario
// names its own QEMU binary (machine.qemu) or kernel/disk (machine.kernel,
// disk, kit) cannot be moved to another, and is an error naming the
// scenario's file. Throws Error (a kit that is not there: with how to build it).
std::vector<ScenarioRun> ApplyTargets(const std::vector<ScenarioRun>& runs,
                                      const std::vector<TargetAxis>& axes);

}  // namespace cpuhp
