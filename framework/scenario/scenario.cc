#include "scenario/scenario.h"

#include <cstdint>
#include <cstdio>

namespace cpuhp {

const char* StepKindName(StepKind kind) {
  switch (kind) {
    case StepKind::kHotplug:
      return "hotplug";
    case StepKind::kUnplug:
      return "unplug";
    case StepKind::kOnline:
      return "online";
    case StepKind::kOffline:
      return "offline";
    case StepKind::kCheck:
      return "check";
    case StepKind::kExpectError:
      return "expect_error";
    case StepKind::kExpectFailure:
      return "expect_failure";
    case StepKind::kMigrate:
      return "migrate";
    case StepKind::kGuestLoad:
      return "guest_load";
    case StepKind::kRepeat:
      return "repeat";
    case StepKind::kSleep:
      return "sleep";
  }
  return "?";
}

Clock::duration DefaultStepTimeout(StepKind kind) {
  using std::chrono::minutes;
  switch (kind) {
    case StepKind::kHotplug:
    case StepKind::kUnplug:
      return 2 * kHotplugSettleTimeout;
    case StepKind::kOnline:
    case StepKind::kOffline:
      return 2 * kAgentTimeout;
    case StepKind::kCheck:
      return kHotplugSettleTimeout;
    case StepKind::kMigrate:
      return kMigrationTimeout;
    case StepKind::kGuestLoad:
      return 2 * kAgentTimeout;
    case StepKind::kRepeat:
      return minutes(30);
    case StepKind::kSleep:
      return minutes(1);
    case StepKind::kExpectError:
    case StepKind::kExpectFailure:
      return 2 * kHotplugSettleTimeout;
  }
  return kHotplugSettleTimeout;
}

std::string ScenarioRun::DirName() const {
  std::string out;
  for (char c : label) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == '[' || c == ']' || c == ',' || c == '=';
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
