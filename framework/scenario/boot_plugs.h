// CPUs plugged while the guest boots (machine.boot_plugs, issue 13 item 7):
// device_add at seeded random times between QEMU's start and the guest
// agent's first answer, some while the VM is stopped. The times come from a
// seed that is printed and recorded (result.json "seed", the boot step's
// detail), and `cpuhp run --seed N` replays them.
//
//   BootPlugPlan plan = PlanBootPlugs(run.machine.boot_plugs, seed);
//   vm->SetBootHook([&](Vm& vm, const Deadline& d) { done = RunBootPlugs(vm, plan, d); });
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "vm/vm.h"

namespace cpuhp {

// machine.boot_plugs.
struct BootPlugs {
  int count = 0;        // 0: none
  bool paused = false;  // the first half (rounded up) while the VM is stopped
  std::optional<uint64_t> seed;  // the scenario's own; --seed wins
  bool operator==(const BootPlugs&) const = default;
};

// The plugs' times are drawn from [0, kBootPlugWindow) after QMP answers:
// the guest kit boots to its agent in 2.5 s on an idle host.
inline constexpr std::chrono::milliseconds kBootPlugWindow{3000};

struct BootPlugPlan {
  uint64_t seed = 0;
  int paused = 0;  // how many plugs happen while the VM is stopped, first
  std::vector<std::chrono::milliseconds> at;  // the others, ascending
};

// Deterministic: the same plugs and seed give the same plan.
BootPlugPlan PlanBootPlugs(const BootPlugs& plugs, uint64_t seed);

// A seed for a run that was given none.
uint64_t FreshSeed();

// Runs the plan on a booting VM (a BootHook's body): `stop`, the paused
// plugs, `cont`, then each timed plug into the lowest free slot (device_add
// only: the guest may not listen to ACPI yet; the checks afterwards settle).
// Returns what was done ({"seed", "plugs": [{"id", "at_ms", "paused"}]});
// the plugged ids are appended to `ids`.
nlohmann::json RunBootPlugs(Vm& vm, const BootPlugPlan& plan, const Deadline& deadline,
                            std::vector<std::string>* ids);

}  // namespace cpuhp
