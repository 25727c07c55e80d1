// Known bugs as versioned expectations. A scenario under scenarios/known-bugs/
// says on which stacks it is expected to fail, and how:
//
//   known_bug:
//     - on: {qemu: "<10.1", accel: tcg}        # every bound must hold
//       fails_with: {error: launch, message: "malloc(): unsorted"}
//       see: docs/known-issues.md
//
// On a stack that matches, a run failing that way is a "known bug" (exit 0,
// JUnit <skipped>), a run that passes fails with "known bug no longer
// reproduces on qemu 10.0.2 ...", so the expectation is narrowed when the
// bug is fixed; a run failing some other way fails as it is. On other
// stacks the expectation does not apply.
//
// `intermittent: true` is for a bug that strikes by chance (a race in QEMU or
// the guest): a run failing that way is still a "known bug", a run that
// passes just passed. Never a retry: each run is one try, reported as what
// it was.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "report/run_result.h"
#include "scenario/scenario_error.h"
#include "util/error.h"
#include "vm/machine_spec.h"

namespace cpuhp {

// One bound of a version range: "<10.1", ">=6.9", "7.2" (that version: its
// components, as kit names match).
struct VersionBound {
  enum class Op { kLess, kLessEqual, kGreater, kGreaterEqual, kMatches };
  Op op = Op::kMatches;
  std::string version;  // "10.1"

  // Parses a range of bounds separated by spaces (">=6.9 <6.13"); nullopt,
  // with `why`, when it is not one.
  static std::optional<std::vector<VersionBound>> ParseRange(const std::string& text,
                                                             std::string* why);
  // Whether `version` ("10.0.2", "6.12.95+deb12-amd64") satisfies it: its
  // leading numeric components, compared as numbers. False for "".
  bool Holds(const std::string& version) const;
  std::string ToString() const;
};

struct KnownBug {
  std::vector<VersionBound> qemu;    // QEMU's query-version
  std::vector<VersionBound> kernel;  // the guest's uname -r
  std::optional<Accel> accel;        // kvm or tcg, as resolved
  std::optional<FailureKind> error;  // the failure's kind; any when unset
  std::string message;               // a substring of the failure's message
  std::string see;                   // where it is written up
  bool intermittent = false;         // a passing run is no news (see the top)
  SourceLocation where;

  // Whether the run's stack (once booted) is one this expectation is about.
  bool AppliesTo(const RunResult& result) const;
  // "qemu <10.1, accel tcg".
  std::string StackText() const;
};

class YamlValue;

// The scenario's known_bug value: one expectation (a map) or a list of them.
// Throws ScenarioError naming file, line and key.
std::vector<KnownBug> ParseKnownBugs(const YamlValue& v);

// Sets a finished run's outcome from the first expectation whose stack
// matches (see the top of this file); leaves it as it is when none does.
void ApplyKnownBugs(const std::vector<KnownBug>& bugs, RunResult& result);

}  // namespace cpuhp
