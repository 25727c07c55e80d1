// What a guest's serial console says about the health of its kernel.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace cpuhp {

// The first line of `console` where the guest kernel reports that it is in
// trouble (soft or hard lockup, RCU stall, hung task, BUG, Oops, panic),
// without the trailing newline; nullopt when there is none. Such a line
// explains most agent timeouts better than the timeout itself does.
std::optional<std::string> FindKernelDistress(std::string_view console);

// True when `console` shows kernel distress inside the stop_machine
// rendezvous (multi_cpu_stop) that CPU online and offline go through: under
// QEMU 7.2 TCG, the signature of a guest in flat logical APIC mode (<= 8
// possible CPUs) whose IPIs to a hot-added CPU go astray.
bool LooksLikeStopMachineStall(std::string_view console);

}  // namespace cpuhp
