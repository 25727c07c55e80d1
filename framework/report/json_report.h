// The machine-readable report of a `cpuhp run`: every run's result.json in
// one document, with totals and the exit code.
//
//   {"cpuhp": "0.1.0", "started": ..., "duration_s": ..., "exit_code": 1,
//    "artifacts": "cpuhp-artifacts/...", "totals": {"runs": 7, "passed": 6, ...},
//    "runs": [ <result.json of each run> ]}
#pragma once

#include <nlohmann/json.hpp>

#include "report/invocation.h"

namespace cpuhp {

nlohmann::json ReportJson(const Invocation& invocation);

}  // namespace cpuhp
