#include "scenario/scheduler.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <fstream>
#include <sched.h>
#include <thread>

namespace cpuhp {
namespace {

// Seconds a step of each kind typically takes under TCG (docs/benchmarks.md);
// the kinds not listed take about one.
struct StepCost {
  StepKind kind;
  double seconds;
};
constexpr StepCost kStepCosts[] = {
    {StepKind::kHotplug, 1.0}, {StepKind::kUnplug, 1.5}, {StepKind::kMigrate, 3.0},
    {StepKind::kCheck, 0.5},   {StepKind::kGuestLoad, 0.5}};
// A boot, cold or restored, plus reading the baseline and shutting down.
constexpr double kRunOverheadSeconds = 3.0;

double EstimateSteps(const std::vector<Step>& steps) {
  double total = 0;
  for (const Step& step : steps) {
    double cost = 1.0;
    for (const auto& c : kStepCosts) {
      if (c.kind == step.kind) cost = c.seconds;
    }
    if (auto* m = std::get_if<MigrateStep>(&step.params)) cost *= std::max(m->times, 1);
    if (auto* s = std::get_if<SleepStep>(&step.params)) cost = ToSeconds(s->duration);
    if (auto* r = std::get_if<RepeatStep>(&step.params)) {
      cost = r->duration ? ToSeconds(*r->duration) : std::max(r->times, 1) * EstimateSteps(r->steps);
    }
    if (auto* e = std::get_if<ExpectErrorStep>(&step.params)) cost = EstimateSteps(e->step);
    if (auto* f = std::get_if<ExpectFailureStep>(&step.params)) {
      // An expected check failure waits for the failure to be stable.
      cost = EstimateSteps(f->step) + 2.0;
    }
    total += cost;
  }
  return total;
}

}  // namespace

double EstimateRunSeconds(const ScenarioRun& run) {
  return kRunOverheadSeconds + EstimateSteps(run.steps);
}

std::vector<size_t> LongestFirstOrder(const std::vector<ScenarioRun>& runs) {
  std::vector<double> cost;
  for (const auto& r : runs) cost.push_back(EstimateRunSeconds(r));
  std::vector<size_t> order(runs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return cost[a] > cost[b]; });
  return order;
}

int AutoJobCount(int cores, long long available_mib, const std::vector<ScenarioRun>& runs) {
  long long per_guest = kQemuOverheadMib;
  for (const auto& r : runs) {
    per_guest = std::max<long long>(per_guest, r.machine.spec.memory_mib + kQemuOverheadMib);
  }
  long long by_memory = available_mib / per_guest;
  long long jobs = std::min<long long>(std::max(cores, 1), by_memory);
  jobs = std::min<long long>(jobs, static_cast<long long>(runs.size()));
  return static_cast<int>(std::max<long long>(jobs, 1));
}

int HostCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) return std::max(CPU_COUNT(&set), 1);
  return std::max(1u, std::thread::hardware_concurrency());
}

long long HostAvailableMib() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  long long kib = 0;
  std::string unit;
  while (in >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib / 1024;
  }
  return 0;
}

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
  std::vector<size_t> order(runs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (options.longest_first) order = LongestFirstOrder(runs);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto stop_starting = [&] {
    return (options.run.cancel && options.run.cancel->load()) ||
           (!options.keep_going && failed.load());
  };
  auto worker = [&] {
    for (;;) {
      size_t n = next.fetch_add(1);
      if (n >= runs.size()) return;
      const size_t i = order[n];
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
