#include "report/summary.h"

#include <algorithm>
#include <cstdio>

#include "util/text.h"

namespace cpuhp {
namespace {

constexpr size_t kMaxPassedListed = 15;

}  // namespace

std::string SummaryText(const Invocation& inv, bool color) {
  // Labels, failure lines and paths carry scenario and guest text: nothing
  // in them may drive the terminal.
  size_t width = 0;
  for (const auto& r : inv.runs) width = std::max(width, TerminalSafe(r.label).size());
  width = std::min<size_t>(width, 40);
  auto line = [&](const RunResult& r) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%7.1f s", ToSeconds(r.duration));
    std::string label = TerminalSafe(r.label);
    label.resize(std::max(width, label.size()), ' ');
    std::string tag = OutcomeTag(r.outcome);
    if (color) tag = OutcomeColor(r.outcome) + tag + "\033[0m";
    std::string s = "  " + tag + " " + label + " " + buf;
    if (!r.Passed() && r.outcome != RunOutcome::kSkipped) {
      s += "  " + TerminalSafe(r.FailureLine()) + "\n        " + std::string(width, ' ') +
           "artifacts: " + TerminalSafe(r.artifacts_dir.string());
    }
    return s + "\n";
  };

  std::string out = "\n";
  std::vector<const RunResult*> passed;
  for (const auto& r : inv.runs) {
    if (r.Passed()) passed.push_back(&r);
  }
  if (passed.size() <= kMaxPassedListed) {
    for (const auto* r : passed) out += line(*r);
  } else {
    out += "  PASS  " + std::to_string(passed.size()) + " runs (listed in the JSON report)\n";
  }
  for (RunOutcome o :
       {RunOutcome::kCancelled, RunOutcome::kSkipped, RunOutcome::kError, RunOutcome::kFailed}) {
    for (const auto& r : inv.runs) {
      if (r.outcome == o) out += line(r);
    }
  }
  int failed = inv.Count(RunOutcome::kFailed), errors = inv.Count(RunOutcome::kError),
      skipped = inv.Count(RunOutcome::kSkipped), cancelled = inv.Count(RunOutcome::kCancelled);
  std::string totals = std::to_string(inv.runs.size()) + " run" +
                       (inv.runs.size() == 1 ? "" : "s") + ": " + std::to_string(passed.size()) +
                       " passed";
  if (failed) totals += ", " + std::to_string(failed) + " failed";
  if (errors) totals += ", " + std::to_string(errors) + " could not run";
  if (skipped) totals += ", " + std::to_string(skipped) + " skipped";
  if (cancelled) totals += ", " + std::to_string(cancelled) + " interrupted";
  out += "\ncpuhp: " + totals + " in " + FormatDuration(inv.duration) + "; artifacts in " +
         TerminalSafe(inv.artifacts_root.string()) + "\n";
  return out;
}

}  // namespace cpuhp
