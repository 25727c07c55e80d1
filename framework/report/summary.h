// The one-screen summary printed at the end of `cpuhp run`: totals, then one
// line per run (failures first, with their first failure line and artifacts
// directory); passing runs are folded into a count when there are many.
#pragma once

#include <string>

#include "report/invocation.h"

namespace cpuhp {

std::string SummaryText(const Invocation& invocation, bool color);

}  // namespace cpuhp
