// The scenario runner against real guests: what a run leaves behind, that
// expectations can fail, the guest load, parallel isolated runs, migration
// hand-over, and that Ctrl-C leaves no QEMU behind.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <thread>

#include "report/artifacts.h"
#include "scenario/guest_load.h"
#include "scenario/runner.h"
#include "scenario/scenario_loader.h"
#include "scenario/scheduler.h"
#include "util/file.h"
#include "util/process.h"
#include "vm/vm_fixture.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;
using testing::TestArtifactsDir;

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = testing::TestAccelUnavailable(); !why.empty()) GTEST_SKIP() << why;
    fs::remove_all(TestArtifactsDir());
    fs::create_directories(TestArtifactsDir());
    options_.artifacts_root = TestArtifactsDir() / "runs";
    options_.accel_override = testing::TestAccel();
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(TestArtifactsDir());
  }

  std::vector<ScenarioRun> Load(const std::string& name, const std::string& yaml) {
    fs::path file = TestArtifactsDir() / (name + ".yaml");
    std::ofstream(file) << yaml;
    return LoadScenarioRuns(file);
  }
  RunResult Run(const std::string& name, const std::string& yaml) {
    auto runs = Load(name, yaml);
    EXPECT_EQ(runs.size(), 1u);
    RunResult r = RunScenario(runs.at(0), options_);
    if (!r.Passed() && r.failure) std::cerr << "run failure: " << r.failure->message << "\n";
    return r;
  }
  static const StepRecord& StepAt(const RunResult& r, const std::string& path) {
    for (const auto& s : r.steps) {
      if (s.path == path) return s;
    }
    throw Error("no step " + path);
  }

  RunOptions options_;
};

TEST_F(RunnerTest, SmokeScenarioPassesAndLeavesItsArtifacts) {
  auto runs = LoadScenarioRuns(fs::path(CPUHP_SOURCE_DIR) / "scenarios" / "smoke.yaml");
  RunResult r = RunScenario(runs.at(0), options_);
  ASSERT_TRUE(r.Passed()) << r.FailureLine() << "\n" << r.serial_tail;
  // What the guest went through: three CPUs plugged, onlined, then gone.
  EXPECT_EQ(StepAt(r, "1").detail["plugged"].size(), 3u);
  EXPECT_EQ(StepAt(r, "2").detail["onlined"], nlohmann::json({1, 2, 3}));
  EXPECT_EQ(StepAt(r, "4").detail["unplugged"],
            nlohmann::json({"cpu-s0c3t0", "cpu-s0c2t0", "cpu-s0c1t0"}));
  EXPECT_EQ(r.checks, 2);
  fs::path dir = r.artifacts_dir;
  EXPECT_EQ(dir, options_.artifacts_root / "smoke");
  for (const char* f : {"serial.log", "transcript.log", "qemu.log", "cmdline.sh", "spec.json",
                        "steps.json", "result.json"}) {
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  }
  nlohmann::json steps = ReadJsonFile(dir / "steps.json");
  ASSERT_EQ(steps.size(), 6u);  // boot + 5 steps
  EXPECT_EQ(steps[0]["kind"], "boot");
  for (const auto& s : steps) {
    EXPECT_EQ(s["outcome"], "passed");
    EXPECT_GE(s["duration_s"].get<double>(), 0.0);
  }
  int checks = 0;
  for (const auto& e : fs::directory_iterator(dir / "checks")) {
    nlohmann::json c = ReadJsonFile(e.path());
    EXPECT_TRUE(c["passed"].get<bool>()) << e.path();
    EXPECT_FALSE(c["result"].empty());
    ++checks;
  }
  EXPECT_EQ(checks, 2);
  EXPECT_EQ(ReadJsonFile(dir / "result.json")["outcome"], "passed");
  // The transcript has every QMP and agent message, timestamped.
  std::string transcript = ReadFileToString(dir / "transcript.log");
  EXPECT_NE(transcript.find("qmp -> {\"arguments\":{\"core-id\":1"), std::string::npos);
  EXPECT_NE(transcript.find("qga -> {\"arguments\":{\"vcpus\""), std::string::npos);
}

TEST_F(RunnerTest, AnExpectedFailureThatDoesNotHappenFailsTheRun) {
  RunResult r = Run("expect-failure", R"(
machine: {smp: {cpus: 1, maxcpus: 2}}
steps:
  - hotplug: {count: 1, online: true}
  - expect_failure: {invariant: present-count, step: check}
  - unplug: all
)");
  EXPECT_EQ(r.outcome, RunOutcome::kFailed);
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->kind, FailureKind::kExpectation);
  EXPECT_EQ(r.failure->step_path, "2");
  EXPECT_NE(r.failure->message.find("but it passed"), std::string::npos) << r.failure->message;
  // The run stops at the failing step.
  EXPECT_EQ(r.steps.back().path, "2");
  EXPECT_EQ(r.steps.back().outcome, "failed");
  EXPECT_FALSE(r.serial_tail.empty());
}

TEST_F(RunnerTest, ExpectErrorMatchesTheQmpErrorClass) {
  std::string yaml = R"(
machine: {smp: {cpus: 1, maxcpus: 2, sockets: 2, cores: 1, threads: 1}}
steps:
  - expect_error:
      class: CLASS
      step: {unplug: {socket: 0, core: 0, thread: 0}}
)";
  std::string right = yaml;
  right.replace(right.find("CLASS"), 5, "GenericError");
  RunResult ok = Run("right-class", right);
  ASSERT_TRUE(ok.Passed()) << ok.FailureLine();
  EXPECT_EQ(StepAt(ok, "1").detail["error"]["class"], "GenericError");
  EXPECT_NE(StepAt(ok, "1").detail["error"]["desc"].get<std::string>().find("unpluggable"),
            std::string::npos);

  std::string wrong = yaml;
  wrong.replace(wrong.find("CLASS"), 5, "DeviceNotFound");
  RunResult bad = Run("wrong-class", wrong);
  EXPECT_EQ(bad.outcome, RunOutcome::kFailed);
  ASSERT_TRUE(bad.failure);
  EXPECT_NE(bad.failure->message.find("expected QMP error class DeviceNotFound, got GenericError"),
            std::string::npos)
      << bad.failure->message;
}

TEST_F(RunnerTest, AFailingStepIsReportedWithItsLocation) {
  // A failure only the guest can reveal (the dry run knows maxcpus, not
  // which CPUs are present): onlining a CPU that was never plugged.
  RunResult r = Run("not-present", R"(
machine: {smp: {cpus: 1, maxcpus: 3}}
steps:
  - check
  - online: "2"
)");
  EXPECT_EQ(r.outcome, RunOutcome::kFailed);
  ASSERT_TRUE(r.failure);
  EXPECT_EQ(r.failure->step_path, "2");
  EXPECT_NE(r.failure->where.find("not-present.yaml:5:5"), std::string::npos) << r.failure->where;
  EXPECT_NE(r.failure->message.find("cpu2 is not present in the guest"), std::string::npos);
}

// The console is read in order: a line is matched once, and what the kernel
// prints for a hotplug comes after the boot's lines.
TEST_F(RunnerTest, WaitForConsoleReadsTheConsoleInOrder) {
  RunResult r = Run("console", R"(
machine: {smp: {cpus: 1, maxcpus: 2}}
steps:
  - wait_for_console: '^cpuhp-guest-ready'
  - expect_failure:
      error: timeout
      message: "no console line matched '^cpuhp-guest-ready' before the step's deadline"
      step: {wait_for_console: '^cpuhp-guest-ready', timeout: 2s}
  - hotplug: {count: 1, online: true}
  - wait_for_console: 'smpboot: Booting Node [0-9]+ Processor 1 APIC'
  - check
)");
  ASSERT_TRUE(r.Passed()) << r.FailureLine();
  const nlohmann::json& ready = StepAt(r, "1").detail;
  EXPECT_EQ(ready["line"], "cpuhp-guest-ready");
  EXPECT_EQ(ready["pattern"], "^cpuhp-guest-ready");
  const nlohmann::json& booted = StepAt(r, "4").detail;
  EXPECT_GT(booted["line_number"].get<uint64_t>(), ready["line_number"].get<uint64_t>());
  EXPECT_NE(booted["line"].get<std::string>().find("Processor 1 APIC"), std::string::npos);
  EXPECT_EQ(booted["skipped"], 0);
}

// A guest that cannot take hot-added CPUs (the 6.1 kit with possible_cpus=1,
// as 6.12 is under TCG on its own) fails the run at boot, in its own words,
// instead of at its first check a minute later; a scenario that boots it on
// purpose says so and runs on.
TEST_F(RunnerTest, AGuestThatCannotTakeHotAddedCpusFailsAtBootUnlessTheScenarioSaysSo) {
  // The kit's own loglevel keeps the kernel's "Allowing" line (KERN_INFO)
  // off the console: it is found in the boot log /init saves.
  const std::string machine = "machine: {smp: {cpus: 1, maxcpus: 4}, append: '" +
                              GuestKit::Load(GuestKit::DefaultDir()).append +
                              " possible_cpus=1'";
  const std::string line = "smpboot: Allowing 1 CPUs, 0 hotplug CPUs";

  RunResult refused = Run("no-room", machine + "}\nsteps: [check]\n");
  EXPECT_EQ(refused.outcome, RunOutcome::kError);
  ASSERT_TRUE(refused.failure);
  EXPECT_EQ(refused.failure->kind, FailureKind::kSetup);
  EXPECT_EQ(refused.failure->step_path, "boot");
  EXPECT_NE(
      refused.failure->message.find("the guest allows 1 of QEMU's 4 CPUs (possible 0; kernel: \"" +
                                    line + "\"): it cannot take hot-added CPUs"),
      std::string::npos)
      << refused.failure->message;
  ASSERT_EQ(refused.steps.size(), 1u);  // no step ran
  EXPECT_EQ(refused.steps[0].outcome, "failed");
  nlohmann::json boot = ReadJsonFile(refused.artifacts_dir / "steps.json").at(0)["detail"];
  EXPECT_EQ(boot["possible"], "0");
  EXPECT_EQ(boot["maxcpus"], 4);
  EXPECT_EQ(boot["kernel_cpus_line"], line);
  EXPECT_EQ(boot["hotplug_cpus"], "all");

  // The second check settles, under a long deadline: a guest whose views
  // do not change cannot settle, so it reports once they read the same
  // three times, not at the deadline.
  RunResult meant = Run("no-room-meant", machine + R"(, hotplug_cpus: none}
steps:
  - expect_failure: {invariant: possible-count, step: {check: {settle: false}}}
  - expect_failure: {invariant: possible-count, step: {check: {settle: true}, timeout: 10m}}
    timeout: 10m
)");
  ASSERT_TRUE(meant.Passed()) << meant.FailureLine();
  nlohmann::json settled = ReadJsonFile(meant.artifacts_dir / "checks" / "02-step2.json");
  EXPECT_FALSE(settled["passed"].get<bool>());
  EXPECT_TRUE(settled["result"]["stopped_unchanged"].get<bool>()) << settled.dump(2);
  EXPECT_GE(settled["result"]["readings"].get<int>(), 3);
  const nlohmann::json& recorded = StepAt(meant, "boot").detail;
  EXPECT_EQ(recorded["possible"], "0");
  EXPECT_EQ(recorded["kernel_cpus_line"], line);
  EXPECT_EQ(recorded["hotplug_cpus"], "none");
}

class GuestLoadTest : public testing::VmTest {};

TEST_F(GuestLoadTest, BusyLoopsRunUntilStopped) {
  SmpTopology smp;
  smp.cpus = 2;
  smp.maxcpus = 2;
  Machine& vm = Boot(testing::KitSpec("load", smp));
  GuestLoad load = GuestLoad::Start(vm.Agent(), 2, Deadline::After(kAgentTimeout));
  ASSERT_EQ(load.pids().size(), 2u);
  for (int64_t pid : load.pids()) {
    auto status = vm.Agent().Execute("guest-exec-status", {{"pid", pid}});
    EXPECT_FALSE(status.value("exited", true)) << "load process " << pid << " is not running";
    // The loop is a shell spinning on builtins: state R (running) or at most briefly S.
    std::string stat = vm.Agent().ReadFile("/proc/" + std::to_string(pid) + "/stat");
    EXPECT_NE(stat.find(") R "), std::string::npos) << stat;
  }
  std::vector<int64_t> pids = load.pids();
  load.Stop(vm.Agent(), Deadline::After(kAgentTimeout));
  for (int64_t pid : pids) {
    EXPECT_FALSE(vm.Agent().TryReadFile("/proc/" + std::to_string(pid) + "/stat"))
        << "load process " << pid << " survived Stop()";
  }
}

TEST_F(RunnerTest, ParallelRunsAreIsolated) {
  auto runs = Load("parallel", R"(
name: par
matrix: {n: [1, 2]}
machine: {smp: {cpus: 1, maxcpus: 3}}
steps:
  - hotplug: {count: "${n}", online: true}
  - check
)");
  ASSERT_EQ(runs.size(), 2u);
  ScheduleOptions options;
  options.jobs = 2;
  options.run = options_;
  std::vector<RunResult> results = RunAll(runs, options);
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) EXPECT_TRUE(r.Passed()) << r.label << ": " << r.FailureLine();
  EXPECT_NE(results[0].artifacts_dir, results[1].artifacts_dir);
  EXPECT_EQ(results[0].steps.at(1).detail["plugged"].size(), 1u);
  EXPECT_EQ(results[1].steps.at(1).detail["plugged"].size(), 2u);
  // Each run's transcript has only its own VM's traffic.
  EXPECT_EQ(ReadFileToString(results[0].artifacts_dir / "transcript.log").find("cpu-s0c2t0"),
            std::string::npos);
}

TEST_F(RunnerTest, MigrateHandsTheScenarioToTheDestination) {
  RunResult r = Run("migrate", R"(
machine: {smp: {cpus: 1, maxcpus: 3}}
steps:
  - hotplug: {count: 1, online: true}
  - migrate
  - check
  - hotplug: {count: 1, online: true}
  - unplug: all
  - check
)");
  ASSERT_TRUE(r.Passed()) << r.FailureLine() << "\n" << r.serial_tail;
  const auto& m = StepAt(r, "2").detail["migrations"];
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0]["status"], "completed");
  // The steps after the migration ran against the destination.
  EXPECT_TRUE(fs::exists(r.artifacts_dir / "migration-1" / "transcript.log"));
  std::string dest = ReadFileToString(r.artifacts_dir / "migration-1" / "transcript.log");
  EXPECT_NE(dest.find("\"execute\":\"device_add\""), std::string::npos);
}

TEST_F(RunnerTest, InterruptShutsEveryVmDownAndExits130) {
  fs::path file = TestArtifactsDir() / "long.yaml";
  std::ofstream(file) << "name: long\nmachine: {smp: {cpus: 1, maxcpus: 2}}\nsteps:\n"
                         "  - sleep: 5m\n";
  fs::path art = TestArtifactsDir() / "art";
  Process cli = Process::Spawn({.argv = {CPUHP_BINARY, "run", "--jobs", "1", "--accel", "tcg",
                                         "--artifacts", art.string(), file.string()},
                                .output = TestArtifactsDir() / "cli.log"});
  // The run is in its sleep step once spec.json exists (written after boot).
  Deadline booted = Deadline::After(kBootTimeout);
  while (!fs::exists(art / "long" / "spec.json") && !booted.Expired()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(fs::exists(art / "long" / "spec.json"))
      << ReadFileToString(TestArtifactsDir() / "cli.log");
  std::string cmdline = ReadFileToString(art / "long" / "cmdline.sh");
  // Ctrl-C reaches cpuhp's process group, not QEMU's.
  cli.SignalGroup(SIGINT);
  auto status = cli.Wait(Deadline::After(std::chrono::seconds(60)));
  ASSERT_TRUE(status) << "cpuhp did not exit after SIGINT";
  EXPECT_EQ(status->code, 130) << ReadFileToString(TestArtifactsDir() / "cli.log");
  EXPECT_EQ(ReadJsonFile(art / "long" / "result.json")["outcome"], "cancelled");
  EXPECT_NE(ReadFileToString(art / "junit.xml").find("<skipped message=\"interrupted\""),
            std::string::npos);
  // No QEMU of this run is left: its serial log path is unique to it.
  std::string serial = (art / "long" / "serial.log").string();
  bool orphan = false;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::ifstream in(e.path() / "cmdline");
    std::string args((std::istreambuf_iterator<char>(in)), {});
    if (args.find("qemu-system") != std::string::npos && args.find(serial) != std::string::npos) {
      orphan = true;
    }
  }
  EXPECT_FALSE(orphan) << "a QEMU of the interrupted run is still running: " << cmdline;
}

}  // namespace
}  // namespace cpuhp
