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
};

// Results in the order of `runs`.
std::vector<RunResult> RunAll(const std::vector<ScenarioRun>& runs, const ScheduleOptions& options,
                              RunObserver* observer = nullptr);

// Each run's directory name under the artifacts root: DirName(), with "-2",
// "-3" appended where two runs would otherwise share one.
std::vector<std::string> UniqueDirNames(const std::vector<ScenarioRun>& runs);

}  // namespace cpuhp
