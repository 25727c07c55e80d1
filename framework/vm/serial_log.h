// What a guest's serial console says about the health of its kernel.
#pragma once

#include <filesystem>
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

// Why a guest whose agent never answered did not come up, read from its
// console (the guest kit's /init says "cpuhp-init: started" first and
// "cpuhp-guest-ready" once qemu-ga runs). One sentence; quoted guest text
// is cut short and its control characters escaped. In order: nothing at all
// (firmware or the accelerator never ran), /init's own error line, a kernel
// panic or other distress, a kernel that never reached /init, an /init that
// never got qemu-ga going, and last a guest that was ready but whose agent
// stayed silent.
std::string ExplainBootFailure(std::string_view console);

// Guest text made safe to quote in one line of a message: control
// characters escaped as \xNN, at most `max` bytes (then "...").
std::string QuoteGuestLine(std::string_view line, size_t max = 200);

// The first kMaxConsoleScan bytes of a serial log, and the last ones when it
// is longer (joined by a marker line): what the diagnoses read, bounded
// whatever the guest printed. "" when the file cannot be read.
inline constexpr size_t kMaxConsoleScan = 1 << 20;
std::string ReadConsoleForDiagnosis(const std::filesystem::path& serial_log);

}  // namespace cpuhp
