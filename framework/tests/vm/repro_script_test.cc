// A repro script, run on its own (bash, socat, QEMU; no cpuhp, a bare
// environment), replays a scenario's hotplug: the guest it boots ends up
// with the plugged CPU online, as the recorded run did.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "report/repro.h"
#include "scenario/runner.h"
#include "scenario/scenario_loader.h"
#include "util/file.h"
#include "util/process.h"
#include "vm/vm_fixture.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;
using testing::TestArtifactsDir;

TEST(ReproScriptVmTest, ReplayingTheScriptPlugsAndOnlinesTheCpuAgain) {
  fs::remove_all(TestArtifactsDir());
  fs::create_directories(TestArtifactsDir());
  fs::path file = TestArtifactsDir() / "plug.yaml";
  std::ofstream(file) << R"(name: plug
machine: {smp: {cpus: 1, maxcpus: 2}}
steps:
  - hotplug: {count: 1, online: true}
  - check
)";
  RunOptions options;
  options.artifacts_root = TestArtifactsDir() / "runs";
  options.accel_override = Accel::kTcg;
  options.emit_repro = true;
  RunResult r = RunScenario(LoadScenarioRuns(file).at(0), options);
  ASSERT_TRUE(r.Passed()) << r.FailureLine();
  fs::path script = r.artifacts_dir / "repro.sh";
  ASSERT_TRUE(fs::exists(script));

  // Standalone: a bare environment, run from elsewhere; only bash, socat and QEMU.
  fs::path log = TestArtifactsDir() / "repro.out";
  std::string timeout = std::to_string(static_cast<int>(120 * TimeoutScale()));
  Process p = Process::Spawn({.argv = {"env", "-i", "PATH=/usr/bin:/bin", "HOME=/tmp",
                                       "REPRO_TIMEOUT=" + timeout, "bash", script.string()},
                              .output = log});
  auto status = p.Wait(Deadline::After(kBootTimeout + 2 * kHotplugSettleTimeout));
  ASSERT_TRUE(status) << "the repro script did not finish";
  std::string out = ReadFileToString(log);
  ASSERT_EQ(status->code, 0) << out;

  size_t step1 = out.find("### step 1: hotplug 1 +online");
  size_t step2 = out.find("### step 2: check");
  ASSERT_NE(step1, std::string::npos) << out;
  ASSERT_NE(step2, std::string::npos) << out;
  // At boot the guest has one CPU online ...
  size_t before = out.find("guest /sys/devices/system/cpu/online: 0\n");
  EXPECT_LT(before, step1) << out;
  // ... QEMU accepted the device_add and the guest acknowledged it ...
  std::smatch m;
  std::string replay = out.substr(step1, step2 - step1);
  EXPECT_TRUE(std::regex_search(
      replay,
      std::regex(R"(qmp -> \{"arguments":\{[^\n]*"id":"cpu-s0c1t0"[^\n]*"execute":"device_add")")))
      << replay;
  EXPECT_TRUE(
      std::regex_search(replay, std::regex(R"(qmp <- \{"return": \{\}, "id": "cpuhp-\d+"\})")))
      << replay;
  EXPECT_TRUE(std::regex_search(
      replay, std::regex(R"("event": "ACPI_DEVICE_OST"[^\n]*"device": "cpu-s0c1t0")")))
      << replay;
  EXPECT_NE(replay.find("qga <- {\"return\": 1}"), std::string::npos) << replay;  // guest-set-vcpus
  // ... and the replayed check reads show the new CPU online.
  std::string after = out.substr(step2);
  EXPECT_NE(after.find("guest /sys/devices/system/cpu/online: 0-1\n"), std::string::npos) << after;
  EXPECT_NE(after.find("guest /sys/devices/system/cpu/cpu1/online: 1\n"), std::string::npos)
      << after;

  // The script cleaned up after itself: no QEMU with its socket directory.
  std::smatch dir;
  ASSERT_TRUE(std::regex_search(out, dir, std::regex(R"(logs in (/\S+cpuhp-repro\.\w+))")));
  EXPECT_FALSE(fs::exists(dir[1].str()));
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::ifstream in(e.path() / "cmdline");
    std::string args((std::istreambuf_iterator<char>(in)), {});
    EXPECT_EQ(args.find(dir[1].str()), std::string::npos) << "left running: " << e.path();
  }
  fs::remove_all(TestArtifactsDir());
}

}  // namespace
}  // namespace cpuhp
