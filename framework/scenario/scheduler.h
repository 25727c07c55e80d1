// Runs many ScenarioRuns, up to `jobs` at a time, each isolated: its own
// worker thread (which spawns its VM and outlives it), its own Machine and
// artifacts directory.
//
// Without keep_going, no new run starts once one has failed or errored (the
// rest are reported as skipped). Once *options.run.cancel becomes true, no
// new run starts and running ones stop between steps (reported cancelled).
#pragma once

#include <vector>

#include "scenario/runner.h"

namespace cpuhp {

struct ScheduleOptions {
  int jobs = 1;
  bool keep_going = false;
  RunOptions run;
  // Start the runs that take longest first (EstimateRunSeconds), so that a
  // parallel suite ends when its longest run does, not when a long run that
  // started last does. Results stay in the order of `runs`.
  bool longest_first = false;
};

// Results in the order of `runs`.
std::vector<RunResult> RunAll(const std::vector<ScenarioRun>& runs, const ScheduleOptions& options,
                              RunObserver* observer = nullptr);

// A rough cost of one run in seconds, from its steps (a migration, a sleep,
// a repeat count more than a check), for ordering only, never for deadlines.
double EstimateRunSeconds(const ScenarioRun& run);
// Indices of `runs`, the longest estimate first (ties keep file order).
std::vector<size_t> LongestFirstOrder(const std::vector<ScenarioRun>& runs);

// --jobs auto: as many jobs as cores, fewer when `available_mib` of memory
// does not hold that many of the largest guest (its memory plus
// kQemuOverheadMib for QEMU itself and TCG's translation cache); at least 1,
// at most runs.
inline constexpr int kQemuOverheadMib = 256;
int AutoJobCount(int cores, long long available_mib, const std::vector<ScenarioRun>& runs);
// This host's online CPUs (the affinity mask) and MemAvailable.
int HostCores();
long long HostAvailableMib();

// Each run's directory name under the artifacts root: DirName(), with "-2",
// "-3" appended where two runs would otherwise share one.
std::vector<std::string> UniqueDirNames(const std::vector<ScenarioRun>& runs);

}  // namespace cpuhp
