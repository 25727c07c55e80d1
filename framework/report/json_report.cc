#include "report/json_report.h"

#ifndef CPUHP_VERSION
#define CPUHP_VERSION "dev"
#endif

namespace cpuhp {

nlohmann::json ReportJson(const Invocation& inv) {
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& r : inv.runs) runs.push_back(r.ToJson());
  return {{"cpuhp", CPUHP_VERSION},
          {"started", inv.started_utc},
          {"duration_s", ToSeconds(inv.duration)},
          {"hostname", inv.hostname},
          {"artifacts", inv.artifacts_root.string()},
          {"exit_code", inv.ExitCode()},
          {"totals",
           {{"runs", inv.runs.size()},
            {"passed", inv.Count(RunOutcome::kPassed)},
            {"failed", inv.Count(RunOutcome::kFailed)},
            {"errors", inv.Count(RunOutcome::kError)},
            {"skipped", inv.Count(RunOutcome::kSkipped)},
            {"known_bugs", inv.Count(RunOutcome::kKnownBug)},
            {"cancelled", inv.Count(RunOutcome::kCancelled)}}},
          {"runs", runs}};
}

}  // namespace cpuhp
