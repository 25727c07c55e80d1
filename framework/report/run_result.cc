#include "report/run_result.h"

namespace cpuhp {

namespace {

// One row per outcome: its report name, its five-column tag and its colour.
struct OutcomeRow {
  RunOutcome outcome;
  const char* name;
  const char* tag;
  const char* color;
};
constexpr OutcomeRow kOutcomes[] = {
    {RunOutcome::kPassed, "passed", "PASS ", "\033[32m"},
    {RunOutcome::kFailed, "failed", "FAIL ", "\033[31m"},
    {RunOutcome::kError, "error", "ERROR", "\033[31m"},
    {RunOutcome::kSkipped, "skipped", "SKIP ", "\033[33m"},
    {RunOutcome::kCancelled, "cancelled", "INTR ", "\033[33m"},
    {RunOutcome::kKnownBug, "known-bug", "KNOWN", "\033[33m"},
};

const OutcomeRow& RowOf(RunOutcome o) {
  for (const auto& row : kOutcomes) {
    if (row.outcome == o) return row;
  }
  static constexpr OutcomeRow kUnknown{RunOutcome::kError, "?", "?    ", "\033[33m"};
  return kUnknown;
}

}  // namespace

const char* OutcomeTag(RunOutcome o) { return RowOf(o).tag; }
const char* OutcomeColor(RunOutcome o) { return RowOf(o).color; }
const char* OutcomeName(RunOutcome o) { return RowOf(o).name; }

nlohmann::json ToJson(const StepRecord& s) {
  nlohmann::json j = {{"path", s.path},      {"kind", s.kind},       {"name", s.name},
                      {"where", s.where},    {"start_s", s.start_s}, {"duration_s", s.duration_s},
                      {"outcome", s.outcome}};
  if (!s.message.empty()) j["message"] = s.message;
  if (!s.detail.empty()) j["detail"] = s.detail;
  return j;
}

std::string RunResult::FailureLine() const {
  if (!failure) return OutcomeName(outcome);
  std::string line;
  if (!failure->invariants.empty()) {
    line = "check failed (";
    for (size_t i = 0; i < failure->invariants.size(); ++i) {
      line += (i ? ", " : "") + failure->invariants[i];
    }
    line += ")";
  } else {
    line = std::string(FailureKindName(failure->kind)) + " failure";
  }
  if (!failure->step_path.empty()) {
    line += " at step " + failure->step_path + " (" + failure->step_name + ")";
  }
  std::string first = failure->message.substr(0, failure->message.find('\n'));
  if (!first.empty()) line += ": " + first;
  return outcome == RunOutcome::kKnownBug ? "known bug: " + line : line;
}

nlohmann::json RunResult::ToJson() const {
  nlohmann::json matrix_json = nlohmann::json::object();
  for (const auto& [axis, value] : matrix) matrix_json[axis] = value;
  nlohmann::json steps_json = nlohmann::json::array();
  for (const auto& s : steps) steps_json.push_back(cpuhp::ToJson(s));
  nlohmann::json j = {{"scenario", scenario},
                      {"label", label},
                      {"file", file.string()},
                      {"matrix", matrix_json},
                      {"outcome", OutcomeName(outcome)},
                      {"artifacts", artifacts_dir.string()},
                      {"started", started_utc},
                      {"duration_s", ToSeconds(duration)},
                      {"boot_s", ToSeconds(boot_time)},
                      {"accel", accel},
                      {"accel_reason", accel_reason},
                      {"qemu_version", qemu_version},
                      {"guest_kernel", guest_kernel},
                      {"machine_type", machine_type},
                      {"checks", checks},
                      {"steps", steps_json}};
  if (failure) {
    j["failure"] = {{"type", FailureKindName(failure->kind)},           {"step", failure->step_path},
                    {"step_name", failure->step_name}, {"where", failure->where},
                    {"message", failure->message},     {"invariants", failure->invariants}};
  }
  if (!target.empty()) {
    nlohmann::json target_json = nlohmann::json::object();
    for (const auto& [axis, name] : target) target_json[axis] = name;
    j["target"] = target_json;
  }
  if (!serial_tail.empty()) j["serial_tail"] = serial_tail;
  if (!known_bug.empty()) j["known_bug"] = known_bug;
  if (!boot.is_null()) j["boot"] = boot;
  if (seed) j["seed"] = *seed;
  return j;
}

}  // namespace cpuhp
