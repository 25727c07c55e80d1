// What one `cpuhp run` did, as the reports see it: every run's result and
// the invocation's own facts.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "report/run_result.h"

namespace cpuhp {

// Exit codes of `cpuhp run` (docs/cli.md).
inline constexpr int kExitPassed = 0;  // every run passed
inline constexpr int kExitFailed = 1;  // some run failed (a test failure)
inline constexpr int kExitUsage = 2;   // bad command line or scenario; no VM started
inline constexpr int kExitSetup = 3;   // infrastructure: QEMU or kit missing, no boot
inline constexpr int kExitInterrupted = 130;

struct Invocation {
  std::string started_utc;
  Clock::duration duration{};
  std::filesystem::path artifacts_root;
  std::string hostname;
  std::vector<RunResult> runs;

  int Count(RunOutcome outcome) const;
  // kExitInterrupted if any run was cancelled, else kExitFailed if any
  // failed, else kExitSetup if any could not be carried out, else kExitPassed.
  int ExitCode() const;
};

}  // namespace cpuhp
