// accel: auto against this host's real QEMU and /dev/kvm: a run records the
// accelerator it used and why, as the KVM probe says (not as the test's author
// assumed about the host); --accel kvm on a host whose KVM runs no guest
// fails at once; `cpuhp doctor` agrees; the probe's disk cache is keyed.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "report/artifacts.h"
#include "scenario/runner.h"
#include "scenario/scenario_loader.h"
#include "util/file.h"
#include "util/process.h"
#include "vm/accel_probe.h"
#include "vm/vm_fixture.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;
using testing::TestArtifactsDir;

const std::string kQemu = MachineSpec().qemu_binary;

class AccelAutoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::remove_all(TestArtifactsDir());
    fs::create_directories(TestArtifactsDir());
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(TestArtifactsDir());
  }
  // cpuhp ARGS..., its exit status and output.
  std::pair<ExitStatus, std::string> Cli(std::vector<std::string> args, Clock::duration limit) {
    args.insert(args.begin(), CPUHP_BINARY);
    fs::path log = TestArtifactsDir() / "cli.log";
    fs::remove(log);
    Process cli = Process::Spawn({.argv = args, .output = log});
    auto status = cli.Wait(Deadline::AfterUnscaled(limit));
    EXPECT_TRUE(status) << "cpuhp did not finish in time: " << ReadFileToString(log);
    return {status.value_or(ExitStatus{}), ReadFileToString(log)};
  }
};

TEST_F(AccelAutoTest, RunRecordsTheAcceleratorTheProbeChose) {
  KvmProbeResult probe = ProbeKvm(kQemu);
  fs::path file = TestArtifactsDir() / "auto.yaml";
  std::ofstream(file) << "name: auto\nmachine: {accel: auto, smp: {cpus: 1, maxcpus: 2}}\n"
                         "steps:\n  - hotplug: {count: 1}\n  - check\n";
  RunOptions options;
  options.artifacts_root = TestArtifactsDir() / "runs";
  RunResult r = RunScenario(LoadScenarioRuns(file).at(0), options);
  ASSERT_TRUE(r.Passed()) << r.FailureLine() << "\n" << r.serial_tail;
  EXPECT_EQ(r.accel, probe.verdict.usable ? "kvm" : "tcg");
  EXPECT_NE(r.accel_reason.find(probe.verdict.reason), std::string::npos)
      << r.accel_reason << " vs the probe's " << probe.verdict.reason;
  nlohmann::json result = ReadJsonFile(r.artifacts_dir / "result.json");
  EXPECT_EQ(result["accel"], r.accel);
  EXPECT_EQ(result["accel_reason"], r.accel_reason);
  nlohmann::json spec = ReadJsonFile(r.artifacts_dir / "spec.json");
  EXPECT_EQ(spec["accel"], "auto");
  EXPECT_EQ(spec["accel_resolved"], r.accel);
  EXPECT_NE(ReadFileToString(r.artifacts_dir / "cmdline.sh").find("-accel " + r.accel),
            std::string::npos);
}

TEST_F(AccelAutoTest, AccelKvmOnAHostWhoseKvmRunsNoGuestFailsBeforeAnyVm) {
  KvmProbeResult probe = ProbeKvm(kQemu);
  if (probe.verdict.usable) GTEST_SKIP() << "KVM runs guests here: " << probe.verdict.reason;
  fs::path art = TestArtifactsDir() / "art";
  // 15 s is the promise to users (a probe is at most 5 s), not a benchmark.
  auto [status, out] = Cli({"run", "--accel", "kvm", "--artifacts", art.string(),
                            (fs::path(CPUHP_SOURCE_DIR) / "scenarios" / "smoke.yaml").string()},
                           std::chrono::seconds(15));
  EXPECT_EQ(status.code, 3) << out;
  EXPECT_NE(out.find("accel kvm was requested but " + probe.verdict.reason), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(art / "smoke")) << "a run was started: " << out;
}

TEST_F(AccelAutoTest, DoctorSaysWhatTheProbeSays) {
  auto [status, out] = Cli({"doctor", "--json"}, std::chrono::seconds(60));
  ASSERT_EQ(status.code, 0) << out;
  nlohmann::json j = nlohmann::json::parse(out);
  EXPECT_EQ(j["ok"], true);
  std::map<std::string, nlohmann::json> parts;
  for (const auto& c : j["checks"]) parts[c["part"].get<std::string>()] = c;
  ASSERT_TRUE(parts.count("kvm")) << out;
  ASSERT_TRUE(parts.count("tcg")) << out;
  EXPECT_EQ(parts["tcg"]["status"], "PASS") << out;  // every VM test here runs under TCG
  KvmProbeResult probe = ProbeKvm(kQemu);
  EXPECT_EQ(parts["kvm"]["status"], probe.verdict.usable ? "PASS" : "WARN") << out;
  EXPECT_NE(parts["kvm"]["detail"].get<std::string>().find(probe.verdict.reason), std::string::npos)
      << out;
}

TEST_F(AccelAutoTest, DiskCacheIsKeyedByBootAndBinary) {
  KvmDevice device = OpenKvmDevice();
  if (device.open_errno != 0 || device.api_version != 12) {
    GTEST_SKIP() << "/dev/kvm does not open here: nothing is cached";
  }
  fs::path cache = TestArtifactsDir() / "cache";
  // Each probe runs in a process of its own, so only the disk cache can
  // carry a result from one to the next.
  auto probe_was_cached = [&] {
    fs::path log = TestArtifactsDir() / "doctor.log";
    fs::remove(log);  // output is appended
    Process doctor = Process::Spawn({.argv = {CPUHP_BINARY, "doctor", "--cached", "--json"},
                                     .output = log,
                                     .env = {"CPUHP_CACHE_DIR=" + cache.string()}});
    EXPECT_TRUE(doctor.Wait(Deadline::After(std::chrono::seconds(60))));
    nlohmann::json j = nlohmann::json::parse(ReadFileToString(log));
    for (const auto& c : j["checks"]) {
      if (c["part"] == "kvm") return c["detail"].get<std::string>().find("(from the cache)") != std::string::npos;
    }
    ADD_FAILURE() << "no kvm line: " << j.dump();
    return false;
  };
  EXPECT_FALSE(probe_was_cached());  // nothing cached yet
  ASSERT_TRUE(fs::exists(cache) && !fs::is_empty(cache));
  fs::path entry = fs::directory_iterator(cache)->path();
  EXPECT_TRUE(probe_was_cached());  // the same boot and QEMU

  // A reboot (another boot_id) must not reuse the result.
  nlohmann::json j = ReadJsonFile(entry);
  const std::string boot_id = j["key"]["boot_id"];
  j["key"]["boot_id"] = "another-boot";
  std::ofstream(entry) << j.dump();
  EXPECT_FALSE(probe_was_cached());
  EXPECT_EQ(ReadJsonFile(entry)["key"]["boot_id"], boot_id);

  // Nor an upgraded QEMU binary (another size), nor a corrupt file.
  j = ReadJsonFile(entry);
  j["key"]["qemu_stat"][2] = 1;
  std::ofstream(entry) << j.dump();
  EXPECT_FALSE(probe_was_cached());
  std::ofstream(entry) << "{\"key\": ";
  EXPECT_FALSE(probe_was_cached());
  EXPECT_TRUE(probe_was_cached());
}

}  // namespace
}  // namespace cpuhp
