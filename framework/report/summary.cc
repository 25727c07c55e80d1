#include "report/summary.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "util/text.h"

namespace cpuhp {
namespace {

constexpr size_t kMaxPassedListed = 15;

// Scenario runs down, targets across, each cell the outcome and wall time:
// which stack breaks which scenario, at a glance. "" without --target.
std::string TargetTable(const Invocation& inv) {
  std::vector<std::string> rows, columns;
  std::map<std::pair<std::string, std::string>, std::string> cells;
  auto add = [](std::vector<std::string>& v, const std::string& s) {
    if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
  };
  for (const auto& r : inv.runs) {
    if (r.target.empty()) continue;
    std::string column;
    for (const auto& [axis, name] : r.target) column += (column.empty() ? "" : ",") + axis + "=" + name;
    std::string row = r.label.substr(0, r.label.rfind('@'));
    add(rows, TerminalSafe(row));
    add(columns, TerminalSafe(column));
    char buf[32];
    std::snprintf(buf, sizeof buf, " %.0fs", ToSeconds(r.duration));
    std::string tag = OutcomeTag(r.outcome);
    tag.erase(tag.find_last_not_of(' ') + 1);
    cells[{TerminalSafe(row), TerminalSafe(column)}] = tag + buf;
  }
  if (columns.empty()) return "";
  size_t row_width = 8;
  for (const auto& row : rows) row_width = std::max(row_width, std::min<size_t>(row.size(), 40));
  std::vector<size_t> widths;
  for (const auto& c : columns) widths.push_back(std::max<size_t>(c.size(), 12));
  auto pad = [](std::string s, size_t w) {
    s.resize(std::max(w, s.size()), ' ');
    return s;
  };
  std::string out = "\n  " + pad("", row_width);
  for (size_t i = 0; i < columns.size(); ++i) out += "  " + pad(columns[i], widths[i]);
  out += "\n";
  for (const auto& row : rows) {
    out += "  " + pad(row, row_width);
    for (size_t i = 0; i < columns.size(); ++i) {
      auto it = cells.find({row, columns[i]});
      out += "  " + pad(it == cells.end() ? "-" : it->second, widths[i]);
    }
    out += "\n";
  }
  return out;
}

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
       {RunOutcome::kKnownBug, RunOutcome::kCancelled, RunOutcome::kSkipped, RunOutcome::kError,
        RunOutcome::kFailed}) {
    for (const auto& r : inv.runs) {
      if (r.outcome == o) out += line(r);
    }
  }
  int failed = inv.Count(RunOutcome::kFailed), errors = inv.Count(RunOutcome::kError),
      skipped = inv.Count(RunOutcome::kSkipped), cancelled = inv.Count(RunOutcome::kCancelled),
      known = inv.Count(RunOutcome::kKnownBug);
  std::string totals = std::to_string(inv.runs.size()) + " run" +
                       (inv.runs.size() == 1 ? "" : "s") + ": " + std::to_string(passed.size()) +
                       " passed";
  if (known) totals += ", " + std::to_string(known) + " known bug" + (known == 1 ? "" : "s");
  if (failed) totals += ", " + std::to_string(failed) + " failed";
  if (errors) totals += ", " + std::to_string(errors) + " could not run";
  if (skipped) totals += ", " + std::to_string(skipped) + " skipped";
  if (cancelled) totals += ", " + std::to_string(cancelled) + " interrupted";
  out += TargetTable(inv);
  out += "\ncpuhp: " + totals + " in " + FormatDuration(inv.duration) + "; artifacts in " +
         TerminalSafe(inv.artifacts_root.string()) + "\n";
  return out;
}

}  // namespace cpuhp
