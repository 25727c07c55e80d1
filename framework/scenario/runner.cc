#include "scenario/runner.h"

#include <utility>

#include "guest/cpu_snapshot.h"
#include "report/artifacts.h"
#include "report/repro.h"
#include "report/spec_json.h"
#include "scenario/machine_config.h"
#include "scenario/step_actions.h"
#include "util/file.h"
#include "util/log.h"
#include "vm/boot_template.h"
#include "vm/guest_kit.h"
#include "vm/qemu_info.h"
#include "vm/serial_log.h"
#include "vm/vm.h"

namespace cpuhp {
namespace {

// Where images/init saves dmesg before it says the guest is ready.
constexpr char kGuestBootLog[] = "/run/cpuhp-boot-dmesg";

namespace fs = std::filesystem;

RunFailure MakeFailure(FailureKind kind, std::string message, std::string step_path = "",
                       std::string step_name = "", std::string where = "",
                       std::vector<std::string> invariants = {}) {
  RunFailure f;
  f.kind = kind;
  f.message = std::move(message);
  f.step_path = std::move(step_path);
  f.step_name = std::move(step_name);
  f.where = std::move(where);
  f.invariants = std::move(invariants);
  return f;
}

StepRecord MakeRecord(std::string path, std::string kind, std::string name, std::string where) {
  StepRecord r;
  r.path = std::move(path);
  r.kind = std::move(kind);
  r.name = std::move(name);
  r.where = std::move(where);
  return r;
}

class Executor {
 public:
  Executor(const ScenarioRun& run, const RunOptions& options, RunObserver* observer, int index)
      : run_(run),
        options_(options),
        observer_(observer),
        index_(index),
        ctx_{.vm = vm_,
             .artifacts_dir = result_.artifacts_dir,
             .label = run_.label,
             .cancel = options_.cancel,
             .run_recorded = [this](const Step& step, const std::string& path,
                                    const Deadline& outer) { RunRecorded(step, path, outer); },
             .checks = result_.checks} {
    result_.scenario = run.scenario;
    result_.label = run.label;
    result_.file = run.file;
    result_.matrix = run.matrix;
    result_.target = run.target;
    result_.artifacts_dir =
        options.artifacts_root / (options.dir_name.empty() ? run.DirName() : options.dir_name);
  }

  RunResult Run() {
    started_ = Clock::now();
    result_.started_utc = UtcTimestamp();
    if (observer_) observer_->RunStarted(index_, run_.label);
    bool booted = false;
    try {
      // Nothing is created or removed before the run directory is known to
      // lie strictly inside the root: a run named ".." once made this
      // remove_all the root's parent. The loader refuses such names too;
      // this holds for every caller, and for options.dir_name.
      RequireInsideRoot(options_.artifacts_root, result_.artifacts_dir);
      dir_contained_ = true;
      fs::remove_all(result_.artifacts_dir);
      MakeDirs(result_.artifacts_dir / "checks");
      booted = Boot();
      if (booted) {
        int n = static_cast<int>(run_.steps.size());
        for (int i = 0; i < n; ++i) {
          const Step& step = run_.steps[i];
          if (observer_) observer_->StepStarted(index_, run_.label, i + 1, n, step.name);
          RunRecorded(step, std::to_string(i + 1), Deadline::Never());
        }
        result_.outcome = RunOutcome::kPassed;
        StopLoadAtEnd();
      }
    } catch (const RunCancelled&) {
      result_.outcome = RunOutcome::kCancelled;
      result_.failure = MakeFailure(FailureKind::kCancelled, "interrupted");
    } catch (const std::exception& e) {
      // A step failure was recorded by RunRecorded; anything else is the runner's own trouble.
      if (!result_.failure) {
        result_.outcome = RunOutcome::kError;
        result_.failure = MakeFailure(FailureKind::kSetup, e.what());
      }
    }
    // Interrupting kills the VMs, so steps fail on the way: that is not the test's verdict.
    if (options_.cancel && options_.cancel->load() && result_.outcome != RunOutcome::kPassed) {
      result_.outcome = RunOutcome::kCancelled;
    }
    Finish();
    return std::move(result_);
  }

 private:
  // Boots the VM; false (with the result set to error) if it could not be
  // started or its guest cannot take the CPUs the scenario expects: those
  // are setup errors, not test failures.
  bool Boot() {
    StepRecord rec = MakeRecord("boot", "boot", "boot", run_.where.ToString());
    Clock::time_point t0 = Clock::now();
    rec.start_s = ToSeconds(t0 - started_);
    if (observer_)
      observer_->StepStarted(index_, run_.label, 0, static_cast<int>(run_.steps.size()), "boot");
    try {
      MachineSpec spec = run_.machine.spec;
      if (options_.accel_override) spec.accel = *options_.accel_override;
      // The loader applied the kit; an empty kernel means it could not
      // read it, and Load says why.
      if (spec.kernel.empty() && spec.disk.empty()) GuestKit::Load(run_.machine.kit).ApplyTo(spec);
      std::string boot_why;
      const BootMode mode = EffectiveBootMode(run_, options_.boot, &boot_why);
      nlohmann::json boot_plugs;
      BootHook hook;
      if (run_.machine.boot_plugs.count > 0) {
        uint64_t seed = options_.seed.value_or(run_.machine.boot_plugs.seed.value_or(FreshSeed()));
        result_.seed = seed;
        LOG(kWarning, "scenario") << run_.label << ": boot_plugs seed " << seed
                                  << " (replay: cpuhp run --seed " << seed << ")";
        BootPlugPlan plan = PlanBootPlugs(run_.machine.boot_plugs, seed);
        hook = [this, &boot_plugs, plan](Vm& vm, const Deadline& d) {
          // The stack, known once QMP answers: a boot the plugs break still
          // says where it ran (the report, a known_bug's `on` bounds).
          result_.accel = AccelName(vm.accel());
          result_.qemu_version = ParseQueryVersion(vm.Qmp().Execute("query-version", nullptr, d), vm.name()).ToString();
          boot_plugs = RunBootPlugs(vm, plan, d, &ctx_.plugged);
        };
      }
      BootRecord boot_record;
      vm_ = BootVm(spec, result_.artifacts_dir, mode, Deadline::After(run_.machine.boot_timeout),
                   &boot_record, std::move(hook));
      result_.boot = boot_record.ToJson();
      result_.boot["why"] = boot_why;
      result_.accel = AccelName(vm_->accel());
      result_.accel_reason = vm_->accel_reason();
      result_.boot_time = vm_->boot_time();
      nlohmann::json spec_json = SpecToJson(spec);
      spec_json["accel_resolved"] = result_.accel;
      spec_json["accel_reason"] = result_.accel_reason;
      WriteJsonFile(result_.artifacts_dir / "spec.json", spec_json);
      // The hotplug state table at boot: the states-stable invariant compares against it.
      vm_->transcript().Record("scenario", Transcript::Direction::kNote,
                               "boot: the guest's CPUs as booted");
      GuestSnapshot boot = ReadGuestSnapshot(vm_->Agent());
      ctx_.baseline_states = boot.states;
      result_.machine_type = spec.machine_type;
      result_.qemu_version =
          ParseQueryVersion(vm_->Qmp().Execute("query-version"), vm_->name()).ToString();
      result_.guest_kernel = ReadGuestKernelRelease(vm_->Agent());
      std::optional<CpuAllowanceLine> allowance =
          FindCpuAllowanceLine(ReadConsoleForDiagnosis(vm_->artifacts_dir() / "serial.log"));
      if (!allowance) {
        // The line is KERN_INFO: below the kit's console loglevel, so it is
        // in the boot log the kit's /init saves (an older kit has none).
        if (auto log = vm_->Agent().TryReadFile(kGuestBootLog)) allowance = FindCpuAllowanceLine(*log);
      }
      rec.detail = {{"accel", result_.accel},
                    {"accel_reason", result_.accel_reason},
                    {"smp", spec.smp.ToQemuArg()},
                    {"online", boot.online.ToString()},
                    {"present", boot.present.ToString()},
                    {"qemu_version", result_.qemu_version},
                    {"guest_kernel", result_.guest_kernel},
                    {"possible", boot.possible.ToString()},
                    {"maxcpus", spec.smp.MaxCpus()},
                    {"kernel_cpus_line", allowance ? nlohmann::json(allowance->text) : nullptr},
                    {"hotplug_cpus", HotplugCpusWord(run_.machine.hotplug_cpus)}};
      if (!boot_plugs.is_null()) rec.detail["boot_plugs"] = boot_plugs;
      // A guest that cannot take the CPUs would fail every hotplug for that
      // one reason, a minute later, at its first check: say so now.
      std::string problem =
          HotplugCpusProblem(run_.machine, boot.possible, boot.present, allowance);
      if (!problem.empty()) throw Error(problem);
      // A guest fit to run the steps: later runs of this configuration may
      // start where this one is now.
      if (boot_record.save_wanted) SaveBootTemplate(*vm_, boot_record);
      result_.boot = boot_record.ToJson();
      result_.boot["why"] = boot_why;
      rec.detail["boot"] = result_.boot;
    } catch (const std::exception& e) {
      rec.outcome = "failed";
      rec.message = e.what();
      rec.duration_s = ToSeconds(Clock::now() - t0);
      result_.steps.push_back(rec);
      if (observer_) observer_->StepFinished(index_, run_.label, rec);
      result_.outcome = RunOutcome::kError;
      result_.failure = MakeFailure(FailureKind::kSetup, e.what(), "boot", "boot", rec.where);
      return false;
    }
    rec.duration_s = ToSeconds(Clock::now() - t0);
    result_.steps.push_back(rec);
    if (observer_) observer_->StepFinished(index_, run_.label, rec);
    return true;
  }

  // Runs one step with a record of its own. Throws (after recording the
  // failure in the result) when it fails.
  void RunRecorded(const Step& step, const std::string& path, const Deadline& outer) {
    if (ctx_.Cancelled()) throw RunCancelled();
    StepRecord rec = MakeRecord(path, StepKindName(step.kind), step.name, step.where.ToString());
    Clock::time_point t0 = Clock::now();
    rec.start_s = ToSeconds(t0 - started_);
    size_t record_at = result_.steps.size();
    result_.steps.push_back(rec);  // children of a repeat come after it
    Deadline deadline = Deadline::After(step.timeout).Min(outer);
    LOG(kInfo, "scenario") << run_.label << ": step " << path << " " << step.name;
    try {
      rec.detail = ExecuteStep(ctx_, step, path, deadline);
    } catch (const RunCancelled&) {
      throw;
    } catch (const std::exception& e) {
      rec.detail = std::exchange(ctx_.failed_detail, nlohmann::json::object());
      rec.outcome = "failed";
      rec.message = e.what();
      // A lost agent or QMP connection is QEMU's end, not its cause.
      if (vm_ && Classify(e).kind == FailureKind::kConnection) {
        rec.message = WithShutdownReason(rec.message, vm_->ShutdownReason());
      }
      if (dynamic_cast<const TimeoutError*>(&e) && deadline.Expired()) {
        rec.message += "\n  (the step's deadline of " + FormatDuration(step.timeout) +
                       " passed; raise it with timeout: on the step, or CPUHP_TIMEOUT_SCALE)";
      }
      if (vm_)
        vm_->transcript().Record("scenario", Transcript::Direction::kNote,
                                 "step " + path + " failed: " + e.what());
      rec.duration_s = ToSeconds(Clock::now() - t0);
      result_.steps[record_at] = rec;
      if (observer_) observer_->StepFinished(index_, run_.label, rec);
      if (!result_.failure) {
        Classified c = Classify(e);
        result_.outcome = RunOutcome::kFailed;
        result_.failure =
            MakeFailure(c.kind, rec.message, path, step.name, rec.where, c.invariants);
      }
      throw;
    }
    rec.duration_s = ToSeconds(Clock::now() - t0);
    result_.steps[record_at] = rec;
    if (observer_) observer_->StepFinished(index_, run_.label, rec);
  }

  void StopLoadAtEnd() {
    if (!ctx_.load || !vm_) return;
    try {
      ctx_.load->Stop(vm_->Agent(), Deadline::After(kAgentTimeout));
    } catch (const Error& e) {
      LOG(kWarning, "scenario") << run_.label
                                << ": stopping the guest load at the end: " << e.what();
    }
    ctx_.load.reset();
  }

  void Finish() {
    if (vm_) {
      vm_->Shutdown();
      if (!result_.Passed()) result_.serial_tail = vm_->SerialTail(40);
    } else if (!result_.Passed() && dir_contained_) {
      result_.serial_tail = TailOfFile(result_.artifacts_dir / "serial.log", 40);
    }
    result_.duration = Clock::now() - started_;
    ApplyKnownBugs(run_.known_bugs, result_);
    WriteReports();
    vm_.reset();
    if (observer_) observer_->RunFinished(index_, result_);
  }

  void WriteReports() {
    // A refused run directory gets no files: the result carries the error.
    if (!dir_contained_) return;
    try {
      nlohmann::json steps = nlohmann::json::array();
      for (const auto& s : result_.steps) steps.push_back(ToJson(s));
      WriteJsonFile(result_.artifacts_dir / "steps.json", steps);
      WriteJsonFile(result_.artifacts_dir / "result.json", result_.ToJson());
      if (options_.emit_repro && fs::exists(result_.artifacts_dir / "spec.json")) {
        WriteReproScript(result_.artifacts_dir);
      }
    } catch (const std::exception& e) {
      LOG(kError, "scenario") << run_.label << ": writing the run's reports: " << e.what();
    }
  }

  const ScenarioRun& run_;
  const RunOptions& options_;
  RunObserver* observer_;
  int index_;
  RunResult result_;
  Clock::time_point started_;
  std::unique_ptr<Vm> vm_;
  StepContext ctx_;
  bool dir_contained_ = false;  // RequireInsideRoot passed: the run may use its directory
};

}  // namespace

RunResult RunScenario(const ScenarioRun& run, const RunOptions& options, RunObserver* observer,
                      int index) {
  return Executor(run, options, observer, index).Run();
}

}  // namespace cpuhp
