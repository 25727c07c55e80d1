// CheckResult and Finding: how a verdict reads, as text and as JSON.
#include "check/checker.h"

namespace cpuhp {

std::string Finding::Text() const {
  std::string out = subject;
  if (!seen.empty()) out += (out.empty() ? "" : " ") + seen;
  if (!expected.empty()) out += ", expected " + expected;
  if (!source.empty()) out += " [" + source + "]";
  return out;
}

bool CheckResult::Passed() const { return Failures().empty(); }

std::vector<InvariantResult> CheckResult::Failures() const {
  std::vector<InvariantResult> out;
  for (const auto& r : invariants) {
    if (r.verdict == Verdict::kFail) out.push_back(r);
  }
  return out;
}

const InvariantResult* CheckResult::Find(std::string_view name) const {
  for (const auto& r : invariants) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

std::string CheckResult::Summary() const {
  auto failures = Failures();
  if (failures.empty()) return "all " + std::to_string(invariants.size()) + " invariants hold";
  std::string out;
  for (const auto& f : failures) {
    if (!out.empty()) out += '\n';
    out += f.name + ": " + f.detail;
  }
  return out;
}

nlohmann::json CheckResult::ToJson() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& r : invariants) {
    nlohmann::json findings = nlohmann::json::array();
    for (const auto& f : r.findings) {
      findings.push_back({{"subject", f.subject},
                          {"seen", f.seen},
                          {"expected", f.expected},
                          {"source", f.source}});
    }
    list.push_back({{"name", r.name},
                    {"verdict", r.verdict == Verdict::kPass ? "pass" : "fail"},
                    {"detail", r.detail},
                    {"findings", findings},
                    {"note", r.note}});
  }
  nlohmann::json out = {{"passed", Passed()}, {"summary", Summary()}, {"invariants", list}};
  if (readings > 0) {
    out["readings"] = readings;
    out["stopped_unchanged"] = stopped_unchanged;
  }
  if (!deep_view.is_null()) out["deep"] = deep_view;
  return out;
}

}  // namespace cpuhp
