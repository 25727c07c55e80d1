// Known bugs as versioned expectations: version ranges, which stacks an
// expectation is about, and what it makes of a run's outcome.
#include "scenario/known_bug.h"

#include <gtest/gtest.h>

#include <fstream>

#include "scenario/scenario_loader.h"
#include "util/temp_dir.h"

namespace cpuhp {
namespace {

std::vector<VersionBound> Range(const std::string& text) {
  std::string why;
  auto r = VersionBound::ParseRange(text, &why);
  EXPECT_TRUE(r) << text << ": " << why;
  return r.value_or(std::vector<VersionBound>{});
}

bool InRange(const std::string& range, const std::string& version) {
  for (const auto& b : Range(range)) {
    if (!b.Holds(version)) return false;
  }
  return true;
}

TEST(VersionRangeTest, BoundsCompareNumericComponents) {
  EXPECT_TRUE(InRange("<10.1", "10.0.2"));
  EXPECT_FALSE(InRange("<10.1", "10.1.0"));
  EXPECT_TRUE(InRange("<=10.1", "10.1"));
  EXPECT_TRUE(InRange(">=6.9 <6.13", "6.12.95+deb12-amd64"));
  EXPECT_FALSE(InRange(">=6.9 <6.13", "6.1.0-57-amd64"));  // 1 < 9, not "6.1" > "6.0"
  EXPECT_TRUE(InRange(">7.2", "10.0.2"));                   // 10 > 7 as numbers
  EXPECT_TRUE(InRange("6.12", "6.12.95+deb12-amd64"));      // whole components
  EXPECT_FALSE(InRange("6.1", "6.12.95+deb12-amd64"));
  EXPECT_TRUE(InRange("=7.2", "7.2.22"));
  EXPECT_FALSE(InRange("<10.1", ""));  // an unknown version is in no range
  EXPECT_FALSE(InRange(">=1", "unknown"));
  std::string why;
  EXPECT_FALSE(VersionBound::ParseRange("", &why));
  EXPECT_EQ(why, "the version range is empty");
  EXPECT_FALSE(VersionBound::ParseRange("~10.1", &why));
  EXPECT_EQ(why, "\"~10.1\" is not a version bound (<V, <=V, >V, >=V or V, V such as 10.1)");
  EXPECT_FALSE(VersionBound::ParseRange("<10.x", &why));
}

RunResult Ran(RunOutcome outcome, FailureKind kind = FailureKind::kError,
              const std::string& message = "") {
  RunResult r;
  r.outcome = outcome;
  r.qemu_version = "7.2.22";
  r.guest_kernel = "6.1.0-57-amd64";
  r.accel = "tcg";
  if (outcome != RunOutcome::kPassed) {
    r.failure = RunFailure();
    r.failure->kind = kind;
    r.failure->message = message;
  }
  return r;
}

KnownBug Bug(const std::string& qemu, FailureKind kind, const std::string& message) {
  KnownBug b;
  b.qemu = Range(qemu);
  b.accel = Accel::kTcg;
  b.error = kind;
  b.message = message;
  b.where = {"scenarios/known-bugs/x.yaml", 3, 5};
  b.see = "docs/known-issues.md";
  return b;
}

TEST(KnownBugTest, TheExpectedFailureIsAKnownBug) {
  RunResult r = Ran(RunOutcome::kFailed, FailureKind::kConnection, "qmp: connection closed by peer");
  ApplyKnownBugs({Bug("7.2", FailureKind::kConnection, "connection closed")}, r);
  EXPECT_EQ(r.outcome, RunOutcome::kKnownBug);
  EXPECT_TRUE(r.AsExpected());
  EXPECT_EQ(r.known_bug,
            "known bug reproduced on qemu 7.2.22, kernel 6.1.0-57-amd64, tcg (known_bug at "
            "scenarios/known-bugs/x.yaml:3:5 (on qemu 7.2, accel tcg: fails with connection "
            "\"connection closed\")); see docs/known-issues.md");
  EXPECT_EQ(r.FailureLine(), "known bug: connection failure: qmp: connection closed by peer");
}

TEST(KnownBugTest, APassOnAStackItIsAboutSaysTheBugNoLongerReproduces) {
  RunResult r = Ran(RunOutcome::kPassed);
  ApplyKnownBugs({Bug("7.2", FailureKind::kConnection, "")}, r);
  EXPECT_EQ(r.outcome, RunOutcome::kFailed);
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->kind, FailureKind::kExpectation);
  EXPECT_EQ(r.failure->message.rfind("known bug no longer reproduces on qemu 7.2.22, kernel "
                                     "6.1.0-57-amd64, tcg: the run passed",
                                     0),
            0u)
      << r.failure->message;
}

// An intermittent bug: its failure is a known bug, a pass is a pass (not
// "no longer reproduces"), another failure fails as it is.
TEST(KnownBugTest, AnIntermittentBugTakesItsFailureAndLeavesAPassAlone) {
  KnownBug bug = Bug("7.2", FailureKind::kSetup, "reason \"guest-reset\"");
  bug.intermittent = true;
  RunResult hit = Ran(RunOutcome::kError, FailureKind::kSetup,
                      "vm x: ... SHUTDOWN, reason \"guest-reset\": the guest reset itself");
  ApplyKnownBugs({bug}, hit);
  EXPECT_EQ(hit.outcome, RunOutcome::kKnownBug);
  RunResult passed = Ran(RunOutcome::kPassed);
  ApplyKnownBugs({bug}, passed);
  EXPECT_EQ(passed.outcome, RunOutcome::kPassed);
  EXPECT_FALSE(passed.failure);
  RunResult other = Ran(RunOutcome::kFailed, FailureKind::kCheck, "present-count: ...");
  ApplyKnownBugs({bug}, other);
  EXPECT_EQ(other.outcome, RunOutcome::kFailed);
}

TEST(KnownBugTest, AnotherFailureFailsAsItIsWithTheExpectationNamed) {
  RunResult r = Ran(RunOutcome::kFailed, FailureKind::kCheck, "present-count: ...");
  ApplyKnownBugs({Bug("7.2", FailureKind::kConnection, "")}, r);
  EXPECT_EQ(r.outcome, RunOutcome::kFailed);
  EXPECT_NE(r.failure->message.find("(not the known bug: known_bug at"), std::string::npos);
  // The right kind with the wrong message is another failure too.
  RunResult m = Ran(RunOutcome::kFailed, FailureKind::kConnection, "agent: gone");
  ApplyKnownBugs({Bug("7.2", FailureKind::kConnection, "qmp")}, m);
  EXPECT_EQ(m.outcome, RunOutcome::kFailed);
}

TEST(KnownBugTest, OnOtherStacksTheExpectationDoesNotApply) {
  for (auto stack : {std::pair<std::string, std::string>{"10.0.2", "tcg"}, {"7.2.22", "kvm"}}) {
    RunResult failed = Ran(RunOutcome::kFailed, FailureKind::kConnection, "closed");
    failed.qemu_version = stack.first;
    failed.accel = stack.second;
    ApplyKnownBugs({Bug("7.2", FailureKind::kConnection, "")}, failed);
    EXPECT_EQ(failed.outcome, RunOutcome::kFailed) << stack.first << " " << stack.second;
    EXPECT_EQ(failed.failure->message, "closed");
    RunResult passed = Ran(RunOutcome::kPassed);
    passed.qemu_version = stack.first;
    passed.accel = stack.second;
    ApplyKnownBugs({Bug("7.2", FailureKind::kConnection, "")}, passed);
    EXPECT_EQ(passed.outcome, RunOutcome::kPassed);
  }
  // Interrupted runs say nothing about the bug.
  RunResult cancelled = Ran(RunOutcome::kCancelled, FailureKind::kCancelled, "");
  ApplyKnownBugs({Bug("7.2", FailureKind::kCancelled, "")}, cancelled);
  EXPECT_EQ(cancelled.outcome, RunOutcome::kCancelled);
}

class KnownBugFileTest : public ::testing::Test {
 protected:
  std::string ErrorOf(const std::string& known_bug) {
    std::filesystem::path p = dir_.path() / "k.yaml";
    std::ofstream(p) << "known_bug: " << known_bug << "\nsteps: [check]\n";
    try {
      LoadScenarioRuns(p);
    } catch (const ScenarioError& e) {
      return std::to_string(e.where().line) + ":" + std::to_string(e.where().column) + ": " +
             e.detail();
    }
    return "(no error)";
  }
  TempDir dir_{std::filesystem::temp_directory_path(), "cpuhp-known-bug-test-"};
};

TEST_F(KnownBugFileTest, TheLoaderReadsOneOrAListAndNamesWhatIsWrong) {
  std::filesystem::path p = dir_.path() / "ok.yaml";
  std::ofstream(p) << "known_bug:\n  - on: {qemu: '<10.1', kernel: '6.12', accel: tcg}\n"
                      "    fails_with: {error: launch, message: boom}\n    see: here\n"
                      "  - on: {qemu: '>=10.1'}\nsteps: [check]\n";
  auto runs = LoadScenarioRuns(p);
  ASSERT_EQ(runs[0].known_bugs.size(), 2u);
  const KnownBug& b = runs[0].known_bugs[0];
  EXPECT_EQ(b.StackText(), "qemu <10.1, kernel 6.12, accel tcg");
  EXPECT_EQ(b.error, FailureKind::kLaunch);
  EXPECT_EQ(b.message, "boom");
  EXPECT_EQ(b.see, "here");
  EXPECT_EQ(b.where.line, 2);
  EXPECT_FALSE(runs[0].known_bugs[1].error);

  EXPECT_EQ(ErrorOf("{on: {qemu: '~1'}}"),
            "1:24: known_bug.on.qemu: \"~1\" is not a version bound (<V, <=V, >V, >=V or V, V "
            "such as 10.1)");
  EXPECT_EQ(ErrorOf("{fails_with: {error: launch}}"),
            "1:12: known_bug: missing required key 'on'");
  EXPECT_EQ(ErrorOf("{on: {qemu: '7.2'}, fails_with: {error: crash}}"),
            "1:52: known_bug.fails_with.error: expected one of setup, launch, check, expectation, "
            "qmp, agent, timeout, connection, protocol, system, migration, error, got \"crash\"");
  EXPECT_EQ(ErrorOf("{on: {qemu: '7.2', os: linux}}"),
            "1:31: unknown key 'os' in known_bug.on; allowed: qemu, kernel, accel");
  EXPECT_EQ(ErrorOf("[]"), "1:12: known_bug: the list of known bugs is empty");
}

}  // namespace
}  // namespace cpuhp
