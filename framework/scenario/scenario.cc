#include "scenario/scenario.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "util/text.h"

namespace cpuhp {

const std::vector<StepKindInfo>& StepKinds() {
  using std::chrono::minutes;
  // Default deadlines: a hotplug or unplug waits for the guest to settle
  // (twice, for the QMP side and the guest side); online/offline and the
  // guest load are agent commands; a repeat's body is bounded by its own.
  //               kind                        word         default deadline
  //               keys of its map                                     expect_error, expect_failure
  static const std::vector<StepKindInfo> kinds = {
      {StepKind::kHotplug, "hotplug", 2 * kHotplugSettleTimeout,
       {"count", "socket", "die", "core", "thread", "id", "online"}, true, true},
      {StepKind::kUnplug, "unplug", 2 * kHotplugSettleTimeout,
       {"id", "ids", "count", "socket", "die", "core", "thread"}, true, true},
      {StepKind::kOnline, "online", 2 * kAgentTimeout, {"cpus", "count"}, true, true},
      {StepKind::kOffline, "offline", 2 * kAgentTimeout, {"cpus", "count"}, true, true},
      {StepKind::kCheck, "check", kHotplugSettleTimeout, {"only", "settle", "deep", "expect_online"}, false, true},
      {StepKind::kExpectError, "expect_error", 2 * kHotplugSettleTimeout,
       {"class", "message", "step"}, false, false},
      {StepKind::kExpectFailure, "expect_failure", 2 * kHotplugSettleTimeout,
       {"invariant", "invariants", "error", "message", "step"}, false, false},
      {StepKind::kMigrate, "migrate", kMigrationTimeout,
       {"transport", "times", "max_bandwidth", "downtime_limit_ms", "postcopy", "cancel_after_ms",
        "omit_cpu_devices", "timeout", "expect_status", "probe_hotplug", "return_path"},
       true, true},
      {StepKind::kGuestLoad, "guest_load", 2 * kAgentTimeout, {"workers", "action", "pin", "lands_on"}, true, true},
      {StepKind::kRepeat, "repeat", minutes(30), {"times", "duration", "steps"}, false, false},
      {StepKind::kSleep, "sleep", minutes(1), {}, false, false},
      {StepKind::kWaitForConsole, "wait_for_console", minutes(1), {}, false, true, true},
      {StepKind::kCgroup, "cgroup", 2 * kAgentTimeout, {"name", "cpus"}, true, true},
      {StepKind::kSmt, "smt", 2 * kAgentTimeout, {}, true, true},
      // A reboot waits for a whole boot, as the boot step does; it restarts
      // the guest's firmware and kernel, which a restored snapshot skipped.
      {StepKind::kReboot, "reboot", kBootTimeout, {"via"}, true, true, true},
      {StepKind::kFailAt, "fail_at", 4 * kAgentTimeout, {"cpu", "state", "action"}, true, true},
  };
  return kinds;
}

const StepKindInfo& StepKindInfoOf(StepKind kind) {
  for (const auto& info : StepKinds()) {
    if (info.kind == kind) return info;
  }
  throw Error("step kind " + std::to_string(static_cast<int>(kind)) + " has no row in StepKinds()");
}

std::optional<StepKind> StepKindFromWord(std::string_view word) {
  for (const auto& info : StepKinds()) {
    if (word == info.word) return info.kind;
  }
  return std::nullopt;
}

std::string DirectoryNameProblem(const std::string& name) {
  if (name.size() > kMaxDirNameBytes) {
    return "is " + std::to_string(name.size()) + " bytes long; at most " +
           std::to_string(kMaxDirNameBytes) + " (NAME_MAX: it names the run's artifacts directory)";
  }
  if (HasControlCharacter(name)) return "contains a control character";
  if (name.find('/') != std::string::npos) {
    return "contains '/' (it names one directory, not a path)";
  }
  if (!name.empty() && name[0] == '.') {
    return "starts with a dot (it names the run's artifacts directory, and . and .. are other "
           "directories)";
  }
  return "";
}

std::string ScenarioRun::DirName() const {
  std::string out;
  for (char c : label) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '[' || c == ']' || c == ',' || c == '=' ||
              c == '@';
    out += ok ? c : '_';
  }
  // The loader refuses such labels; this holds for runs built any other way.
  // The runner empties this directory, so it must never be the root or its parent.
  if (out.empty() || out[0] == '.') out = "_" + out;
  if (out.size() > kMaxDirNameBytes) {
    // FNV-1a of the whole label: stable across builds, unlike std::hash.
    uint64_t hash = 14695981039346656037ull;
    for (unsigned char c : label) hash = (hash ^ c) * 1099511628211ull;
    char suffix[18];
    std::snprintf(suffix, sizeof suffix, "~%016llx", static_cast<unsigned long long>(hash));
    out.resize(kMaxDirNameBytes - (sizeof suffix - 1));
    out += suffix;
  }
  return out;
}

}  // namespace cpuhp

namespace cpuhp {
namespace {

// The first step (depth first) of a kind that needs a cold boot.
const Step* FindColdBootStep(const std::vector<Step>& steps) {
  for (const Step& step : steps) {
    if (StepKindInfoOf(step.kind).needs_cold_boot) return &step;
    const std::vector<Step>* inner = nullptr;
    if (auto* e = std::get_if<ExpectErrorStep>(&step.params)) inner = &e->step;
    if (auto* f = std::get_if<ExpectFailureStep>(&step.params)) inner = &f->step;
    if (auto* r = std::get_if<RepeatStep>(&step.params)) inner = &r->steps;
    if (inner) {
      if (const Step* found = FindColdBootStep(*inner)) return found;
    }
  }
  return nullptr;
}

}  // namespace

BootMode EffectiveBootMode(const ScenarioRun& run, std::optional<BootMode> requested,
                           std::string* why) {
  if (requested == BootMode::kCold) {
    *why = "--boot cold";
    return BootMode::kCold;
  }
  if (run.machine.boot == BootMode::kCold) {
    *why = "machine.boot: cold";
    return BootMode::kCold;
  }
  if (run.machine.boot_plugs.count > 0) {
    *why = "machine.boot_plugs plugs CPUs while the guest boots";
    return BootMode::kCold;
  }
  if (const Step* step = FindColdBootStep(run.steps)) {
    *why = std::string("its ") + StepKindName(step->kind) + " step (" + step->path +
           ") needs a cold boot";
    return BootMode::kCold;
  }
  if (requested) {
    *why = "--boot snapshot";
    return *requested;
  }
  if (run.machine.boot) {
    *why = "machine.boot: snapshot";
    return *run.machine.boot;
  }
  BootMode mode = DefaultBootMode();
  *why = std::getenv("CPUHP_BOOT") ? "CPUHP_BOOT" : "the default";
  return mode;
}

}  // namespace cpuhp
