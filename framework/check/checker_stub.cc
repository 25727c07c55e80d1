// Placeholder until the checker lands (issue 3): replace this file.
#include "check/checker.h"

#include "util/error.h"

namespace cpuhp {
HostView ReadHostView(QmpClient& qmp) { return {QueryHotpluggableCpus(qmp), QueryCpusFast(qmp)}; }
nlohmann::json ToJson(const HostView&) { return nlohmann::json::object(); }
bool CheckResult::Passed() const { return Failures().empty(); }
std::vector<InvariantResult> CheckResult::Failures() const {
  std::vector<InvariantResult> out;
  for (const auto& r : invariants) if (r.verdict == Verdict::kFail) out.push_back(r);
  return out;
}
std::string CheckResult::Summary() const { return "checker not implemented"; }
nlohmann::json CheckResult::ToJson() const { return nlohmann::json::object(); }
const std::vector<std::string>& InvariantNames() { static std::vector<std::string> n; return n; }
CheckResult RunChecks(const HostView&, const GuestSnapshot&, const CheckOptions&) {
  throw Error("checker not implemented yet");
}
CheckResult CheckMachine(Machine&, const CheckOptions&) { throw Error("checker not implemented yet"); }
CheckResult CheckUntilConsistent(Machine&, const CheckOptions&, const Deadline&) {
  throw Error("checker not implemented yet");
}
}  // namespace cpuhp
