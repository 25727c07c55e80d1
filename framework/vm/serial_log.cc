#include "vm/serial_log.h"

#include <array>

namespace cpuhp {

namespace {

// Kernel messages that mean "something is stuck or broken", as printed by
// 6.x kernels (kernel/watchdog.c, kernel/rcu/tree_stall.h, kernel/hung_task.c,
// lib/bug.c, kernel/panic.c).
constexpr std::array<std::string_view, 8> kDistressMarkers = {
    "BUG: soft lockup",
    "Watchdog detected hard LOCKUP",
    "rcu: INFO: rcu_",  // "rcu_sched self-detected stall", "rcu_preempt detected stalls"
    "blocked for more than",
    "BUG: ",
    "Oops: ",
    "Kernel panic - not syncing",
    "general protection fault",
};

std::string_view LineAt(std::string_view text, size_t pos) {
  size_t begin = text.rfind('\n', pos);
  begin = begin == std::string_view::npos ? 0 : begin + 1;
  size_t end = text.find('\n', pos);
  if (end == std::string_view::npos) end = text.size();
  std::string_view line = text.substr(begin, end - begin);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

}  // namespace

std::optional<std::string> FindKernelDistress(std::string_view console) {
  size_t first = std::string_view::npos;
  for (std::string_view marker : kDistressMarkers) {
    size_t pos = console.find(marker);
    if (pos < first) first = pos;
  }
  if (first == std::string_view::npos) return std::nullopt;
  return std::string(LineAt(console, first));
}

bool LooksLikeStopMachineStall(std::string_view console) {
  return FindKernelDistress(console).has_value() &&
         (console.find("multi_cpu_stop") != std::string_view::npos ||
          console.find("stop_machine") != std::string_view::npos);
}

}  // namespace cpuhp
