// What one scenario run did: the record the runner fills in and every report
// (artifacts, JUnit, JSON, summary, progress) reads.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "util/deadline.h"
#include "util/error.h"

namespace cpuhp {

enum class RunOutcome {
  kPassed,
  kFailed,     // a step failed: the test found something (exit code 1)
  kError,      // the run could not be carried out: QEMU or kit missing, no boot (exit code 3)
  kSkipped,    // not started: an earlier run failed and --keep-going was not given
  kCancelled,  // interrupted (Ctrl-C, SIGTERM)
  // Failed as the scenario's known_bug says it does on this stack: the bug
  // still stands (exit code 0; JUnit <skipped>).
  kKnownBug,  // the last: tests walk every outcome up to it
};
const char* OutcomeName(RunOutcome outcome);  // "passed", "failed", ...
// "PASS ", "FAIL ", "ERROR", "SKIP ", "INTR ", "KNOWN": five columns, for run lists.
const char* OutcomeTag(RunOutcome outcome);
// The ANSI color of that tag on a terminal (green, red or yellow).
const char* OutcomeColor(RunOutcome outcome);

// One executed step (or the boot, path "boot"). Steps inside a repeat have
// paths like "4[2].1": step 4, iteration 2, its first step.
struct StepRecord {
  std::string path;
  std::string kind;    // "hotplug", ..., or "boot"
  std::string name;    // "hotplug 3 +online"
  std::string where;   // "scenarios/smoke.yaml:12:5"
  double start_s = 0;  // since the run started
  double duration_s = 0;
  std::string outcome = "passed";  // "passed" | "failed"
  std::string message;             // why it failed, or what an expected failure was
  nlohmann::json detail = nlohmann::json::object();  // plugged ids, onlined CPUs, ...
};
nlohmann::json ToJson(const StepRecord& step);

// Why a run did not pass.
struct RunFailure {
  // FailureKindName() of it is the report's "type".
  FailureKind kind = FailureKind::kError;
  std::string step_path;  // "" for setup failures
  std::string step_name;
  std::string where;
  std::string message;
  std::vector<std::string> invariants;  // failing invariants, for check failures
};

struct RunResult {
  std::string scenario;
  std::string label;
  std::filesystem::path file;
  std::vector<std::pair<std::string, std::string>> matrix;
  RunOutcome outcome = RunOutcome::kSkipped;
  std::optional<RunFailure> failure;
  std::filesystem::path artifacts_dir;
  std::string started_utc;
  Clock::duration duration{};
  Clock::duration boot_time{};
  std::string accel;  // as resolved ("tcg", "kvm"), once booted
  std::string accel_reason;  // why: the KVM probe's verdict
  // The stack it ran on, once booted: what --target asked for (axis ->
  // name, e.g. qemu -> 10.0), QEMU's query-version, the guest's uname -r.
  std::vector<std::pair<std::string, std::string>> target;
  std::string qemu_version;   // "10.0.2"
  std::string guest_kernel;   // "6.12.95+deb12-amd64"
  std::string machine_type;
  std::optional<uint64_t> seed;  // machine.boot_plugs' seed, when it plugged while booting   // "q35"
  std::vector<StepRecord> steps;
  std::string serial_tail;  // the end of the serial log, for failed runs
  // For kKnownBug: which expectation it met, on which stack.
  std::string known_bug;
  int checks = 0;           // check steps run
  // How it booted (vm/boot_template.h, BootRecord::ToJson): cold or restored,
  // from which template, why; null before the boot.
  nlohmann::json boot;

  bool Passed() const { return outcome == RunOutcome::kPassed; }
  // Passed, or failed as a known bug says it does: nothing new was found.
  bool AsExpected() const { return Passed() || outcome == RunOutcome::kKnownBug; }
  // One line: "check present-count failed at step 3 (hotplug max): ...".
  std::string FailureLine() const;
  nlohmann::json ToJson() const;
};

// Progress and results as they happen; the runner and the scheduler call
// these from worker threads (implementations synchronise).
class RunObserver {
 public:
  virtual ~RunObserver() = default;
  virtual void RunStarted(int /*index*/, const std::string& /*label*/) {}
  virtual void StepStarted(int /*index*/, const std::string& /*label*/, int /*step*/, int /*steps*/,
                           const std::string& /*step_name*/) {}
  virtual void StepFinished(int /*index*/, const std::string& /*label*/,
                            const StepRecord& /*record*/) {}
  virtual void RunFinished(int /*index*/, const RunResult& /*result*/) {}
};

}  // namespace cpuhp
