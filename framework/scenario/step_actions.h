// What each kind of scenario step does to the VM under test.
//
// The executor (runner.cc) keeps a run's lifecycle: the run directory, boot,
// one record per step, the reports. The actions here do the steps, over a
// StepContext the executor owns, through the Vm seam only (vm/vm.h), so they
// are the same for every backend. Each action returns its detail (the
// "detail" of its record in steps.json: the ids plugged, the CPUs onlined,
// the check's file ...).
//
//   StepContext ctx{.vm = vm, .artifacts_dir = dir, .label = label, ...};
//   nlohmann::json detail = ExecuteStep(ctx, step, "3", deadline);
#pragma once

#include <atomic>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "guest/cpu_snapshot.h"
#include "scenario/guest_load.h"
#include "scenario/scenario.h"
#include "util/error.h"
#include "vm/vm.h"

namespace cpuhp {

// A step did not do what it should; its kind and invariants go to the report.
class StepFailed : public Error {
 public:
  StepFailed(FailureKind kind, std::string message, std::vector<std::string> invariants = {})
      : Error(std::move(message)), kind_(kind), invariants_(std::move(invariants)) {}
  FailureKind kind() const override { return kind_; }
  const std::vector<std::string>& invariants() const { return invariants_; }

 private:
  FailureKind kind_;
  std::vector<std::string> invariants_;
};

// Interrupted between steps.
class RunCancelled : public Error {
 public:
  RunCancelled() : Error("interrupted") {}
  FailureKind kind() const override { return FailureKind::kCancelled; }
};

// How a failure is reported: its kind and the invariants it names.
struct Classified {
  FailureKind kind;
  std::vector<std::string> invariants;
};
Classified Classify(const std::exception& e);

// What the steps of one run share. The executor owns it; the references
// point into the executor.
struct StepContext {
  // The VM under test; a migration replaces it with the destination.
  std::unique_ptr<Vm>& vm;
  // The run's directory: checks/NN-*.json, migration-N/.
  const std::filesystem::path& artifacts_dir;
  // The run, in log lines.
  const std::string& label;
  // Becomes true when the run is interrupted (sleeps stop at once).
  const std::atomic<bool>* cancel;
  // Runs a child step with a record of its own (repeat's body).
  std::function<void(const Step&, const std::string& path, const Deadline&)> run_recorded;
  // Check steps run so far (RunResult::checks): numbers the check files.
  int& checks;

  std::vector<std::string> plugged = {};  // device ids, in plug order
  // hotplug/states at boot: the states-stable invariant compares against it.
  std::vector<HotplugState> baseline_states = {};
  std::optional<GuestLoad> load = {};
  // cgroups the cgroup step made (names under kCgroupRoot), for deep checks.
  std::vector<std::string> cgroups = {};
  // The IRQ counts of the last check that read them (irq-counts-frozen).
  std::optional<IrqCountsBaseline> irq_counts = {};
  int migrations = 0;
  // What the step that threw had put in its detail by then: its record
  // keeps it (a failed check still names its file). Whoever catches the
  // step's exception takes it.
  nlohmann::json failed_detail = nlohmann::json::object();

  bool Cancelled() const { return cancel && cancel->load(); }
};

// Notes the step in the transcript and runs its action; returns its detail.
// Throws what the step failed with (StepFailed for a step that ran but did
// not do what it should), with its detail so far left in ctx.failed_detail.
nlohmann::json ExecuteStep(StepContext& ctx, const Step& step, const std::string& path,
                           const Deadline& deadline);

}  // namespace cpuhp
