// What a guest's serial console says about the health of its kernel.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "util/deadline.h"
#include "util/fd.h"

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

// What an x86 guest kernel says at boot about the CPUs it will ever run:
//   Linux 6.9+ "CPU topo: Allowing 1 present CPUs plus 0 hotplug CPUs"
//     (arch/x86/kernel/cpu/topology.c: present + hotplug are possible)
//   Linux 6.1  "smpboot: Allowing 4 CPUs, 3 hotplug CPUs"
//     (arch/x86/kernel/smpboot.c: the first number is all possible CPUs)
// Both are KERN_INFO, so they reach the serial console only with loglevel=7
// (the guest kit boots with 5).
struct CpuAllowanceLine {
  int possible = 0;
  int hotplug = 0;
  // The message from "CPU topo:" or "smpboot:" on, without the timestamp;
  // only digits vary in it, so it is short.
  std::string text;
};
// The line, if it is one of those (anything may come before the prefix,
// nothing but line-end characters after the message).
std::optional<CpuAllowanceLine> ParseCpuAllowanceLine(std::string_view line);
// The first such line of `console`.
std::optional<CpuAllowanceLine> FindCpuAllowanceLine(std::string_view console);

// The first kMaxConsoleScan bytes of a serial log, and the last ones when it
// is longer (joined by a marker line): what the diagnoses read, bounded
// whatever the guest printed. "" when the file cannot be read.
inline constexpr size_t kMaxConsoleScan = 1 << 20;
std::string ReadConsoleForDiagnosis(const std::filesystem::path& serial_log);

// How much of a guest's console serial.log keeps: its first `head` bytes,
// then (when the guest printed more) a marker line and, once the console
// ends, its last `tail` bytes. The rest is read and dropped.
struct SerialLogLimits {
  // A verbose boot (initcall_debug, a lockup's backtraces) is a few MiB;
  // 64 MiB in all bounds the disk a guest that prints forever can fill, per VM.
  size_t head = (64 << 20) - kMaxConsoleScan;
  // The end that ReadConsoleForDiagnosis reads.
  size_t tail = kMaxConsoleScan;
};
// Starts the line written where the head ends.
inline constexpr std::string_view kSerialLogCutMarker = "[cpuhp: serial.log cut here:";

// One line of a guest's console, numbered from 1 in the order printed,
// without its line ending; cut at SerialLogPump::kMaxLineBytes.
struct ConsoleLine {
  uint64_t number = 0;
  std::string text;
};

// What SerialLogPump::WaitForLine found.
struct ConsoleLineWait {
  std::optional<ConsoleLine> line;  // the first line accepted; nullopt if none was
  uint64_t last_number = 0;         // the last line looked at (or skipped)
  uint64_t skipped = 0;             // lines that left the kept window before they were looked at
  bool ended = false;               // the console closed before a line was accepted
};

// Copies a guest's console from the socket QEMU writes it to into
// serial.log, on a thread of its own. Bytes go to the file as they arrive (a
// crash of the guest, QEMU or cpuhp leaves all that came on disk), up to the
// head of SerialLogLimits; past it the last `tail` bytes are held in memory
// and appended when the console ends or the pump is destroyed. It reads all
// the time, so the guest never waits on it.
//
//   SerialLogPump pump(AcceptWithDeadline(listen, deadline), artifacts / "serial.log");
//   ... QEMU exits ...
//   pump.WaitForEnd(deadline);  // everything QEMU wrote is in the file
class SerialLogPump {
 public:
  // Creates (truncates) `log`; throws SystemError naming it.
  SerialLogPump(UniqueFd console, const std::filesystem::path& log, SerialLogLimits limits = {});
  // Takes what the socket already holds (a bounded amount), writes the kept
  // tail and joins the thread, whether or not QEMU closed its end.
  ~SerialLogPump();
  SerialLogPump(const SerialLogPump&) = delete;
  SerialLogPump& operator=(const SerialLogPump&) = delete;

  // Waits until QEMU closed the console and all of it is in the file; false
  // at the deadline.
  bool WaitForEnd(const Deadline& deadline);

  // Lines kept for WaitForLine and LastLines, and the most of a line that is
  // kept (the rest is dropped). Both bound what a guest that prints forever,
  // or one line without end, costs; and a regex only ever reads one line of at
  // most kMaxLineBytes, so its backtracking stays bounded.
  static constexpr size_t kKeptLines = 4096;
  static constexpr size_t kMaxLineBytes = 4096;

  // Waits for the first complete line numbered after `after` that `accept`
  // takes: those already kept first, then as they arrive, until the deadline
  // or the end of the console (whose unfinished last line then counts as a
  // line). `accept` runs on the caller's thread, never while the pump waits
  // for it.
  ConsoleLineWait WaitForLine(uint64_t after, const std::function<bool(std::string_view)>& accept,
                              const Deadline& deadline);
  // The last `n` complete lines kept (fewer when fewer came).
  std::vector<ConsoleLine> LastLines(size_t n) const;

 private:
  void Run();
  void Take(std::string_view bytes);
  void KeepLines(std::string_view bytes);
  void EndLine();
  void Finish();

  UniqueFd console_;
  UniqueFd file_;
  UniqueFd stop_read_, stop_write_;
  SerialLogLimits limits_;
  size_t head_written_ = 0;
  size_t past_head_ = 0;  // bytes beyond the head, of which tail_ keeps the last
  std::string tail_;
  std::string partial_line_;  // pump thread only
  mutable std::mutex mu_;
  std::condition_variable changed_cv_;  // the console ended, or a line came
  bool ended_ = false;
  std::deque<ConsoleLine> lines_;  // guarded by mu_
  uint64_t line_count_ = 0;        // guarded by mu_
  std::thread thread_;
};

}  // namespace cpuhp
