#include "scenario/scheduler.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <thread>

namespace cpuhp {

std::vector<std::string> UniqueDirNames(const std::vector<ScenarioRun>& runs) {
  std::vector<std::string> names;
  std::map<std::string, int> seen;
  for (const auto& run : runs) {
    std::string name = run.DirName();
    int n = ++seen[name];
    if (n > 1) name += "-" + std::to_string(n);
    names.push_back(name);
  }
  return names;
}

std::vector<RunResult> RunAll(const std::vector<ScenarioRun>& runs, const ScheduleOptions& options,
                              RunObserver* observer) {
  std::vector<RunResult> results(runs.size());
  std::vector<std::string> dirs = UniqueDirNames(runs);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto stop_starting = [&] {
    return (options.run.cancel && options.run.cancel->load()) ||
           (!options.keep_going && failed.load());
  };
  auto worker = [&] {
    for (;;) {
      size_t i = next.fetch_add(1);
      if (i >= runs.size()) return;
      if (stop_starting()) {
        RunResult& r = results[i];
        r.scenario = runs[i].scenario;
        r.label = runs[i].label;
        r.file = runs[i].file;
        r.matrix = runs[i].matrix;
        bool cancelled = options.run.cancel && options.run.cancel->load();
        r.outcome = cancelled ? RunOutcome::kCancelled : RunOutcome::kSkipped;
        r.artifacts_dir = options.run.artifacts_root / dirs[i];
        if (observer) observer->RunFinished(static_cast<int>(i), r);
        continue;
      }
      RunOptions run_options = options.run;
      run_options.dir_name = dirs[i];
      // This thread spawns the run's QEMU and lives until it is gone.
      results[i] = RunScenario(runs[i], run_options, observer, static_cast<int>(i));
      if (!results[i].AsExpected()) failed = true;
    }
  };
  size_t n = std::clamp<size_t>(static_cast<size_t>(std::max(options.jobs, 1)), 1, runs.size());
  std::vector<std::thread> threads;
  for (size_t t = 0; t < n; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  return results;
}

}  // namespace cpuhp
