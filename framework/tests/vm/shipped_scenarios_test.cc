// Every scenario shipped in scenarios/ (not known-bugs/) runs green on a real
// guest, each as its own test, so that CI names the scenario that broke. The
// migration scenarios must also show the migrations they are about.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <map>

#include "scenario/runner.h"
#include "scenario/scenario_loader.h"
#include "vm/vm_fixture.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;
using testing::TestArtifactsDir;

std::vector<std::string> ShippedScenarios() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(fs::path(CPUHP_SOURCE_DIR) / "scenarios")) {
    if (e.is_regular_file() && e.path().extension() == ".yaml") {
      names.push_back(e.path().stem().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Migrations each migration scenario must record, by final status. A
// migrate-*.yaml missing here fails: a new one must say what it proves.
const std::map<std::string, std::map<std::string, int>> kMigrations = {
    {"migrate-plug-online", {{"completed", 1}}},
    {"migrate-plug-offline", {{"completed", 1}}},
    {"migrate-hole", {{"completed", 1}}},
    {"migrate-ping-pong", {{"completed", 3}}},
    {"migrate-under-load", {{"completed", 1}}},
    {"migrate-cancel", {{"cancelled", 1}, {"completed", 1}}},
    {"migrate-smt-partial-core", {{"completed", 1}}},
    // The destination without cpu1's -device fails: no migration completes.
    {"migrate-missing-device", {}},
};

class ShippedScenarioTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (std::string why = testing::TestAccelUnavailable(); !why.empty()) GTEST_SKIP() << why;
    fs::remove_all(TestArtifactsDir());
    options_.artifacts_root = TestArtifactsDir();
    options_.accel_override = testing::TestAccel();
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(TestArtifactsDir());
  }
  RunOptions options_;
};

TEST_P(ShippedScenarioTest, Passes) {
  const std::string name = GetParam();
  auto runs = LoadScenarioRuns(fs::path(CPUHP_SOURCE_DIR) / "scenarios" / (name + ".yaml"));
  ASSERT_FALSE(runs.empty());
  for (const auto& run : runs) {
    SCOPED_TRACE(run.label);
    RunResult r = RunScenario(run, options_);
    if (r.outcome == RunOutcome::kKnownBug) {
      // Only an intermittent known_bug the scenario declares (boot-plugs:
      // docs/known-issues.md) can turn a shipped run into one: this try hit
      // it, which is a result, not a pass to check further.
      ASSERT_TRUE(std::any_of(run.known_bugs.begin(), run.known_bugs.end(),
                              [](const KnownBug& b) { return b.intermittent; }))
          << r.known_bug;
      std::cout << run.label << ": " << r.known_bug << "\n";
      continue;
    }
    ASSERT_TRUE(r.Passed()) << r.FailureLine() << "\n" << r.serial_tail;
    EXPECT_GT(r.checks, 0) << "a shipped scenario must check something";

    if (name.rfind("migrate-", 0) != 0) continue;
    auto expected = kMigrations.find(name);
    ASSERT_NE(expected, kMigrations.end()) << "add " << name << " to kMigrations";
    std::map<std::string, int> seen;
    for (const auto& step : r.steps) {
      if (!step.detail.contains("migrations")) continue;
      for (const auto& m : step.detail["migrations"]) ++seen[m["status"].get<std::string>()];
    }
    EXPECT_EQ(seen, expected->second);
    if (name == "migrate-missing-device") {
      auto failed = std::find_if(r.steps.begin(), r.steps.end(),
                                 [](const StepRecord& s) { return s.kind == "expect_failure"; });
      ASSERT_NE(failed, r.steps.end());
      std::string why = failed->detail.value("/failure/message"_json_pointer, std::string());
      // QEMU's own reason, quoted from the destination's qemu.log.
      EXPECT_NE(why.find("Unknown savevm section or instance 'cpu_common' 1"), std::string::npos)
          << "the migration without cpu1's -device did not fail as QEMU 7.2 makes it: " << why;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ShippedScenarioTest, ::testing::ValuesIn(ShippedScenarios()),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace cpuhp
