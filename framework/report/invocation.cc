#include "report/invocation.h"

#include <algorithm>

namespace cpuhp {

int Invocation::Count(RunOutcome outcome) const {
  return static_cast<int>(
      std::count_if(runs.begin(), runs.end(), [&](const auto& r) { return r.outcome == outcome; }));
}

int Invocation::ExitCode() const {
  if (Count(RunOutcome::kCancelled) > 0) return kExitInterrupted;
  if (Count(RunOutcome::kFailed) > 0) return kExitFailed;
  if (Count(RunOutcome::kError) > 0) return kExitSetup;
  // Runs skipped after a failure imply a failure; skipped alone cannot happen.
  if (Count(RunOutcome::kSkipped) > 0) return kExitFailed;
  return kExitPassed;
}

}  // namespace cpuhp
