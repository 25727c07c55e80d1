#include "scenario/runner.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <thread>

#include "check/checker.h"
#include "guest/cpu_snapshot.h"
#include "report/artifacts.h"
#include "report/repro.h"
#include "report/spec_json.h"
#include "scenario/guest_load.h"
#include "scenario/topology.h"
#include "util/file.h"
#include "util/log.h"
#include "util/wait.h"
#include "vm/cpu_hotplug.h"
#include "vm/guest_kit.h"
#include "vm/machine.h"
#include "vm/migration.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;

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

// How a failure is reported: its kind and the invariants it names.
struct Classified {
  FailureKind kind;
  std::vector<std::string> invariants;
};

Classified Classify(const std::exception& e) {
  if (auto* f = dynamic_cast<const StepFailed*>(&e)) return {f->kind(), f->invariants()};
  if (auto* err = dynamic_cast<const Error*>(&e)) return {err->kind(), {}};
  return {FailureKind::kError, {}};
}

bool SameSlot(const CpuProps& a, const CpuProps& b) {
  return a.socket_id == b.socket_id && a.die_id == b.die_id && a.core_id == b.core_id &&
         a.thread_id == b.thread_id;
}

std::string Lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class Executor {
 public:
  Executor(const ScenarioRun& run, const RunOptions& options, RunObserver* observer, int index)
      : run_(run), options_(options), observer_(observer), index_(index) {
    result_.scenario = run.scenario;
    result_.label = run.label;
    result_.file = run.file;
    result_.matrix = run.matrix;
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
  Machine& vm() { return *vm_; }

  // Boots the VM; false (with the result set to error) if it could not be
  // started: those are setup errors, not test failures.
  bool Boot() {
    StepRecord rec = MakeRecord("boot", "boot", "boot", run_.where.ToString());
    Clock::time_point t0 = Clock::now();
    rec.start_s = ToSeconds(t0 - started_);
    if (observer_)
      observer_->StepStarted(index_, run_.label, 0, static_cast<int>(run_.steps.size()), "boot");
    try {
      MachineSpec spec = run_.machine.spec;
      if (options_.accel_override) spec.accel = *options_.accel_override;
      if (!run_.machine.cpu_model_set) {
        std::string problem;
        auto topo = ResolveTopology(spec.smp, &problem);
        spec.cpu_model = topo && topo->threads > 1 ? "max" : "qemu64";
      }
      if (spec.kernel.empty() && spec.disk.empty()) {
        GuestKit::Load(run_.machine.kit.value_or(GuestKit::DefaultDir())).ApplyTo(spec);
      }
      vm_ = std::make_unique<Machine>(spec, result_.artifacts_dir);
      vm_->Launch(Deadline::After(run_.machine.boot_timeout));
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
      GuestSnapshot boot = ReadGuestSnapshot(vm().Agent());
      baseline_states_ = boot.states;
      rec.detail = {{"accel", result_.accel},
                    {"accel_reason", result_.accel_reason},
                    {"smp", spec.smp.ToQemuArg()},
                    {"online", boot.online.ToString()},
                    {"present", boot.present.ToString()}};
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
    if (options_.cancel && options_.cancel->load()) throw RunCancelled();
    StepRecord rec = MakeRecord(path, StepKindName(step.kind), step.name, step.where.ToString());
    Clock::time_point t0 = Clock::now();
    rec.start_s = ToSeconds(t0 - started_);
    size_t record_at = result_.steps.size();
    result_.steps.push_back(rec);  // children of a repeat come after it
    Deadline deadline = Deadline::After(step.timeout).Min(outer);
    LOG(kInfo, "scenario") << run_.label << ": step " << path << " " << step.name;
    try {
      Execute(step, path, deadline, &rec.detail);
    } catch (const RunCancelled&) {
      throw;
    } catch (const std::exception& e) {
      rec.outcome = "failed";
      rec.message = e.what();
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

  void Execute(const Step& step, const std::string& path, const Deadline& deadline,
               nlohmann::json* detail) {
    if (vm_)
      vm_->transcript().Record("scenario", Transcript::Direction::kNote,
                               "step " + path + ": " + step.name);
    switch (step.kind) {
      case StepKind::kHotplug:
        return Hotplug(std::get<HotplugStep>(step.params), deadline, detail);
      case StepKind::kUnplug:
        return Unplug(std::get<UnplugStep>(step.params), deadline, detail);
      case StepKind::kOnline:
      case StepKind::kOffline:
        return SetOnline(std::get<SetOnlineStep>(step.params), deadline, detail);
      case StepKind::kCheck:
        return Check(std::get<CheckStep>(step.params), path, deadline, detail);
      case StepKind::kExpectError:
        return ExpectError(std::get<ExpectErrorStep>(step.params), path, deadline, detail);
      case StepKind::kExpectFailure:
        return ExpectFailure(std::get<ExpectFailureStep>(step.params), path, deadline, detail);
      case StepKind::kMigrate:
        return MigrateVm(std::get<MigrateStep>(step.params), detail);
      case StepKind::kGuestLoad:
        return Load(std::get<GuestLoadStep>(step.params), deadline, detail);
      case StepKind::kRepeat:
        return Repeat(std::get<RepeatStep>(step.params), path, deadline, detail);
      case StepKind::kSleep:
        return Sleep(std::get<SleepStep>(step.params), deadline);
    }
  }

  // The guest's CPU numbers, as guest-get-vcpus lists them (present CPUs).
  std::set<int> GuestCpuIds(const Deadline& deadline) {
    std::set<int> ids;
    for (const auto& v : vm().Agent().GetVcpus(deadline)) ids.insert(v.logical_id);
    return ids;
  }

  void Hotplug(const HotplugStep& h, const Deadline& deadline, nlohmann::json* detail) {
    CpuHotplug hp(vm().Qmp());
    std::set<int> before;
    if (h.online) before = GuestCpuIds(deadline);
    nlohmann::json plugged = nlohmann::json::array();
    if (h.props) {
      auto slots = hp.Slots();
      if (slots.empty()) throw StepFailed(FailureKind::kExpectation, "QEMU offers no hotpluggable CPU slots");
      std::string id = h.id.value_or(SlotDeviceId(*h.props));
      auto slot = std::find_if(slots.begin(), slots.end(),
                               [&](const auto& s) { return SameSlot(s.props, *h.props); });
      if (slot != slots.end() && !slot->plugged()) {
        hp.Plug(*slot, id, deadline);
      } else {
        // No such free slot: let QEMU say why (that is what expect_error tests).
        hp.DeviceAdd(slots.front().type, id, *h.props, deadline);
        vm().Qmp().WaitForEvent("ACPI_DEVICE_OST", MatchData({{"info", {{"device", id}}}}),
                                deadline);
      }
      plugged_.push_back(id);
      plugged.push_back(id);
    } else {
      auto free = hp.FreeSlots();
      size_t n = h.max ? free.size() : static_cast<size_t>(h.count);
      if (n > free.size()) {
        throw StepFailed(FailureKind::kExpectation, "asked to plug " + std::to_string(n) +
                                            " CPUs but QEMU has " + std::to_string(free.size()) +
                                            " free slots");
      }
      for (size_t i = 0; i < n; ++i) {
        std::string id = h.id && n == 1 ? *h.id : SlotDeviceId(free[i].props);
        hp.Plug(free[i], id, deadline);
        plugged_.push_back(id);
        plugged.push_back(id);
      }
    }
    (*detail)["plugged"] = plugged;
    if (h.online) {
      // The guest numbers new CPUs in the order it processes them: take the
      // ones that appeared, however they are numbered.
      std::set<int> fresh;
      bool appeared = WaitUntil(deadline, kGuestPollInterval, [&] {
        std::set<int> now = GuestCpuIds(deadline);
        fresh.clear();
        std::set_difference(now.begin(), now.end(), before.begin(), before.end(),
                            std::inserter(fresh, fresh.end()));
        return fresh.size() >= plugged.size();
      });
      if (!appeared) {
        throw TimeoutError("hotplug: the guest shows " + std::to_string(fresh.size()) +
                           " new CPU(s) after plugging " + std::to_string(plugged.size()));
      }
      std::vector<GuestVcpu> set;
      for (int cpu : fresh) set.push_back({cpu, true, true});
      vm().Agent().SetVcpus(set, deadline);
      (*detail)["onlined"] = std::vector<int>(fresh.begin(), fresh.end());
    }
  }

  void UnplugId(const std::string& id, const Deadline& deadline) {
    CpuHotplug(vm().Qmp()).Unplug(id, deadline);
    plugged_.erase(std::remove(plugged_.begin(), plugged_.end(), id), plugged_.end());
  }

  void Unplug(const UnplugStep& u, const Deadline& deadline, nlohmann::json* detail) {
    std::vector<std::string> ids = u.ids;
    if (u.all) {
      ids.assign(plugged_.rbegin(), plugged_.rend());
    } else if (u.count > 0) {
      if (u.count > static_cast<int>(plugged_.size())) {
        throw StepFailed(FailureKind::kExpectation, "asked to unplug " + std::to_string(u.count) +
                                            " CPUs but only " + std::to_string(plugged_.size()) +
                                            " were hot-plugged");
      }
      ids.assign(plugged_.rbegin(), plugged_.rbegin() + u.count);
    }
    if (u.props) {
      CpuHotplug hp(vm().Qmp());
      auto slots = hp.Slots();
      auto slot = std::find_if(slots.begin(), slots.end(),
                               [&](const auto& s) { return SameSlot(s.props, *u.props); });
      if (slot == slots.end() || !slot->plugged()) {
        // Ask QEMU anyway, by the id cpuhp would have given it: its answer is the test.
        ids.push_back(SlotDeviceId(*u.props));
      } else if (auto id = PluggedDeviceId(*slot)) {
        ids.push_back(*id);
      } else {
        // A CPU from -smp has no id: device_del takes its QOM path.
        ids.push_back(*slot->qom_path);
      }
    }
    for (const auto& id : ids) UnplugId(id, deadline);
    (*detail)["unplugged"] = ids;
  }

  void SetOnline(const SetOnlineStep& s, const Deadline& deadline, nlohmann::json* detail) {
    auto vcpus = vm().Agent().GetVcpus(deadline);
    std::vector<GuestVcpu> change;
    if (s.all || s.count > 0) {
      std::vector<GuestVcpu> candidates;
      for (const auto& v : vcpus) {
        if (v.online != s.online && (s.online || v.can_offline)) candidates.push_back(v);
      }
      std::sort(candidates.begin(), candidates.end(),
                [](const auto& a, const auto& b) { return a.logical_id < b.logical_id; });
      if (!s.online) std::reverse(candidates.begin(), candidates.end());
      if (s.count > 0) {
        if (static_cast<int>(candidates.size()) < s.count) {
          throw StepFailed(FailureKind::kExpectation,
                           std::string("asked to ") + (s.online ? "online " : "offline ") +
                               std::to_string(s.count) + " CPUs but the guest has " +
                               std::to_string(candidates.size()) + " that can change");
        }
        candidates.resize(s.count);
      }
      for (const auto& v : candidates) change.push_back({v.logical_id, s.online, true});
    } else {
      for (int cpu : s.cpus) {
        auto it = std::find_if(vcpus.begin(), vcpus.end(),
                               [&](const auto& v) { return v.logical_id == cpu; });
        if (it == vcpus.end()) {
          throw StepFailed(FailureKind::kExpectation,
                           "cpu" + std::to_string(cpu) + " is not present in the guest");
        }
        change.push_back({cpu, s.online, true});
      }
    }
    std::vector<int> cpus;
    for (const auto& v : change) cpus.push_back(v.logical_id);
    (*detail)[s.online ? "onlined" : "offlined"] = cpus;
    if (!change.empty()) vm().Agent().SetVcpus(change, deadline);
  }

  void Check(const CheckStep& c, const std::string& path, const Deadline& deadline,
             nlohmann::json* detail) {
    CheckOptions options;
    options.only = c.only;
    options.baseline_states = baseline_states_;
    options.smp = vm().spec().smp;
    CheckResult r =
        c.settle ? CheckUntilConsistent(vm(), options, deadline) : CheckMachine(vm(), options);
    ++result_.checks;
    char name[32];
    std::snprintf(name, sizeof name, "%02d-step", result_.checks);
    std::string file_name = std::string(name) + path + ".json";
    std::replace(file_name.begin(), file_name.end(), '[', '_');
    std::replace(file_name.begin(), file_name.end(), ']', '_');
    nlohmann::json out = {{"step", path},
                          {"time", UtcTimestamp()},
                          {"passed", r.Passed()},
                          {"summary", r.Summary()},
                          {"result", r.ToJson()}};
    WriteJsonFile(result_.artifacts_dir / "checks" / file_name, out);
    (*detail)["check"] = "checks/" + file_name;
    (*detail)["summary"] = r.Summary();
    if (!r.Passed()) {
      std::vector<std::string> names;
      for (const auto& f : r.Failures()) names.push_back(f.name);
      throw StepFailed(FailureKind::kCheck, r.Summary(), names);
    }
  }

  // Runs the inner step without a record of its own; returns what it threw.
  std::exception_ptr RunInner(const Step& inner, const std::string& path, const Deadline& deadline,
                              nlohmann::json* detail) {
    try {
      Execute(inner, path, deadline, detail);
    } catch (const RunCancelled&) {
      throw;
    } catch (...) {
      return std::current_exception();
    }
    return nullptr;
  }

  void ExpectError(const ExpectErrorStep& e, const std::string& path, const Deadline& deadline,
                   nlohmann::json* detail) {
    std::exception_ptr thrown = RunInner(e.step[0], path, deadline, detail);
    std::string want =
        "QMP error class " + e.error_class + (e.message ? " with \"" + *e.message + "\"" : "");
    if (!thrown) throw StepFailed(FailureKind::kExpectation, "expected " + want + ", but the step succeeded");
    try {
      std::rethrow_exception(thrown);
    } catch (const QmpError& q) {
      CheckExpectedError(want, e, q.error_class(), q.desc(), detail);
    } catch (const AgentError& a) {
      CheckExpectedError(want, e, a.error_class(), a.desc(), detail);
    } catch (const std::exception& other) {
      throw StepFailed(FailureKind::kExpectation,
                       "expected " + want + ", but the step failed otherwise: " + other.what());
    }
  }

  void CheckExpectedError(const std::string& want, const ExpectErrorStep& e, const std::string& cls,
                          const std::string& desc, nlohmann::json* detail) {
    (*detail)["error"] = {{"class", cls}, {"desc", desc}};
    if (cls != e.error_class ||
        (e.message && Lowercase(desc).find(Lowercase(*e.message)) == std::string::npos)) {
      throw StepFailed(FailureKind::kExpectation, "expected " + want + ", got " + cls + ": " + desc);
    }
    LOG(kInfo, "scenario") << run_.label << ": expected error came: " << cls << ": " << desc;
  }

  void ExpectFailure(const ExpectFailureStep& f, const std::string& path, const Deadline& deadline,
                     nlohmann::json* detail) {
    std::exception_ptr thrown = RunInner(f.step[0], path, deadline, detail);
    if (!thrown) {
      throw StepFailed(
          FailureKind::kExpectation,
          "expected the step to fail" +
              (f.invariants.empty() ? std::string() : " (invariant " + f.invariants.front() + ")") +
              ", but it passed");
    }
    try {
      std::rethrow_exception(thrown);
    } catch (const std::exception& e) {
      Classified c = Classify(e);
      (*detail)["failure"] = {
          {"type", FailureKindName(c.kind)}, {"message", e.what()}, {"invariants", c.invariants}};
      for (const auto& want : f.invariants) {
        if (std::find(c.invariants.begin(), c.invariants.end(), want) == c.invariants.end()) {
          throw StepFailed(FailureKind::kExpectation, "expected invariant " + want + " to fail, but the step " +
                                              (c.kind == FailureKind::kCheck ? "failed on other invariants: "
                                                                 : "failed otherwise: ") +
                                              e.what());
        }
      }
      if (f.error && *f.error != "any" && FailureKindFromName(*f.error) != c.kind) {
        throw StepFailed(FailureKind::kExpectation, "expected a " + *f.error + " failure, got a " +
                                                        std::string(FailureKindName(c.kind)) +
                                                        " failure: " + e.what());
      }
      if (f.message && Lowercase(e.what()).find(Lowercase(*f.message)) == std::string::npos) {
        throw StepFailed(FailureKind::kExpectation,
                         "expected a failure mentioning \"" + *f.message + "\", got: " + e.what());
      }
    }
  }

  void MigrateVm(const MigrateStep& m, nlohmann::json* detail) {
    nlohmann::json migrations = nlohmann::json::array();
    for (int i = 0; i < m.times; ++i) {
      ++migrations_;
      fs::path dest_dir = result_.artifacts_dir / ("migration-" + std::to_string(migrations_));
      MigrationResult r;
      std::unique_ptr<Machine> dest = Migrate(vm(), dest_dir, m.options, &r);
      migrations.push_back(
          {{"status", r.status},
           {"wall_s", ToSeconds(r.wall_time)},
           {"total_time_ms", r.total_time_ms ? nlohmann::json(*r.total_time_ms) : nullptr},
           {"downtime_ms", r.downtime_ms ? nlohmann::json(*r.downtime_ms) : nullptr},
           {"artifacts", dest_dir.string()}});
      if (m.probe_hotplug) migrations.back()["probes"] = r.ToJson()["probes"];
      (*detail)["migrations"] = migrations;
      if (m.probe_hotplug && *m.probe_hotplug != "record") {
        bool want_accepted = *m.probe_hotplug == "accepted";
        for (const auto& probe : r.probes) {
          if (probe.accepted == want_accepted) continue;
          throw StepFailed(FailureKind::kExpectation,
                           "QEMU " + std::string(probe.accepted ? "accepted " : "refused ") +
                               probe.command + " during migration " + std::to_string(i + 1) +
                               (probe.accepted ? "" : " (" + probe.error_class + ": " + probe.desc + ")") +
                               ", expected it to be " + *m.probe_hotplug);
        }
        if (r.probes.empty()) {
          throw StepFailed(FailureKind::kExpectation, "migration " + std::to_string(i + 1) +
                                              " ended before device_add/device_del could be tried");
        }
      }
      if (m.expect_status && r.status != *m.expect_status) {
        throw StepFailed(FailureKind::kMigration, "migration " + std::to_string(i + 1) + " ended " + r.status +
                                          ", expected " + *m.expect_status);
      }
      if (!dest) break;  // cancelled: the source keeps running
      // The source was shut down by Migrate(); the scenario goes on with the destination.
      vm_ = std::move(dest);
    }
  }

  void Load(const GuestLoadStep& g, const Deadline& deadline, nlohmann::json* detail) {
    if (g.stop) {
      if (!load_) throw StepFailed(FailureKind::kExpectation, "no guest load is running");
      load_->Stop(vm().Agent(), deadline);
      load_.reset();
      return;
    }
    if (load_) throw StepFailed(FailureKind::kExpectation, "a guest load is already running");
    int workers = g.workers;
    if (workers == 0) {
      for (const auto& v : vm().Agent().GetVcpus(deadline)) workers += v.online ? 1 : 0;
    }
    load_ = GuestLoad::Start(vm().Agent(), workers, deadline);
    (*detail)["workers"] = workers;
    (*detail)["pids"] = load_->pids();
  }

  void Repeat(const RepeatStep& r, const std::string& path, const Deadline& deadline,
              nlohmann::json* detail) {
    Clock::time_point start = Clock::now();
    int iteration = 0;
    for (;;) {
      if (r.times > 0 && iteration >= r.times) break;
      if (r.duration && Clock::now() - start >= *r.duration) break;
      ++iteration;
      for (size_t j = 0; j < r.steps.size(); ++j) {
        std::string child = path + "[" + std::to_string(iteration) + "]." + std::to_string(j + 1);
        RunRecorded(r.steps[j], child, deadline);
      }
    }
    (*detail)["iterations"] = iteration;
  }

  void Sleep(const SleepStep& s, const Deadline& deadline) {
    Clock::time_point end = Clock::now() + s.duration;
    while (Clock::now() < end) {
      if (options_.cancel && options_.cancel->load()) throw RunCancelled();
      if (deadline.Expired()) throw TimeoutError("sleep outlasted its step deadline");
      std::this_thread::sleep_for(
          std::min<Clock::duration>(end - Clock::now(), std::chrono::milliseconds(200)));
    }
  }

  void StopLoadAtEnd() {
    if (!load_ || !vm_) return;
    try {
      load_->Stop(vm().Agent(), Deadline::After(kAgentTimeout));
    } catch (const Error& e) {
      LOG(kWarning, "scenario") << run_.label
                                << ": stopping the guest load at the end: " << e.what();
    }
    load_.reset();
  }

  void Finish() {
    if (vm_) {
      vm_->Shutdown();
      if (!result_.Passed()) result_.serial_tail = vm_->SerialTail(40);
    } else if (!result_.Passed() && dir_contained_) {
      result_.serial_tail = TailOfFile(result_.artifacts_dir / "serial.log", 40);
    }
    result_.duration = Clock::now() - started_;
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
  std::unique_ptr<Machine> vm_;
  std::vector<std::string> plugged_;  // device ids, in plug order
  std::vector<HotplugState> baseline_states_;
  std::optional<GuestLoad> load_;
  int migrations_ = 0;
  bool dir_contained_ = false;  // RequireInsideRoot passed: the run may use its directory
};

}  // namespace

RunResult RunScenario(const ScenarioRun& run, const RunOptions& options, RunObserver* observer,
                      int index) {
  return Executor(run, options, observer, index).Run();
}

}  // namespace cpuhp
