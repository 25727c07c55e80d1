// Repro script generation from a recorded run directory (spec.json and
// transcript.log): what is replayed, what is rewritten, where it stops, and
// that bash accepts the script. The VM test repro_script_test.cc runs one.
#include <gtest/gtest.h>

#include <fstream>

#include "report/artifacts.h"
#include "report/repro.h"
#include "report/spec_json.h"
#include "util/error.h"
#include "util/fd.h"
#include "util/process.h"
#include "util/temp_dir.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;

TEST(TranscriptLineTest, ParsesEachPart) {
  auto e = ParseTranscriptLine(
      R"(2026-11-23T09:10:00.123Z +1.234 qmp -> {"execute":"device_add","arguments":{"id":"a b"}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->utc, "2026-11-23T09:10:00.123Z");
  EXPECT_DOUBLE_EQ(e->rel_s, 1.234);
  EXPECT_EQ(e->channel, "qmp");
  EXPECT_EQ(e->arrow, "->");
  EXPECT_EQ(e->text, R"({"execute":"device_add","arguments":{"id":"a b"}})");
  auto note = ParseTranscriptLine("2026-11-23T09:10:00.123Z +0.000 scenario -- step 1: check");
  ASSERT_TRUE(note);
  EXPECT_EQ(note->text, "step 1: check");
  EXPECT_FALSE(ParseTranscriptLine("    {\"continuation\": 1}"));
  EXPECT_FALSE(ParseTranscriptLine("2026 1.0 qmp -> {}"));
  EXPECT_FALSE(ParseTranscriptLine("2026 +1.0 qmp => {}"));
}

class ReproScriptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    MachineSpec spec;
    spec.name = "smoke";
    spec.smp.cpus = 1;
    spec.smp.maxcpus = 4;
    spec.kernel = "/kit/vmlinux";
    spec.initrd = "/kit/initramfs.img";
    spec.append = "console=ttyS0 panic=-1";
    nlohmann::json j = SpecToJson(spec);
    j["accel_resolved"] = "tcg";
    WriteJsonFile(dir_.path() / "spec.json", j);
  }

  void Transcript(const std::vector<std::string>& lines) {
    std::ofstream out(dir_.path() / "transcript.log");
    double t = 0;
    for (const auto& l : lines) {
      char rel[32];
      std::snprintf(rel, sizeof rel, "+%.3f", t += 0.01);
      out << "2026-11-23T09:10:00.000Z " << rel << " " << l << "\n";
    }
  }

  TempDir dir_{fs::temp_directory_path(), "cpuhp-repro-test-"};
};

TEST_F(ReproScriptTest, ReplaysCommandsEventsAndFileReadsInOrder) {
  Transcript({
      R"(vm -- launch: qemu-system-x86_64 ...)",
      R"(qmp <- {"QMP":{"version":{}}})",
      R"(qmp -> {"execute":"qmp_capabilities","id":"cpuhp-1"})",
      R"(qmp <- {"return":{},"id":"cpuhp-1"})",
      R"(qga -> {"arguments":{"id":42},"execute":"guest-sync-delimited"})",
      R"(qga <- {"return":42})",
      R"(scenario -- step 1: hotplug 1 +online)",
      R"(qmp -> {"arguments":{"core-id":1,"driver":"qemu64-x86_64-cpu","id":"cpu-s0c1t0","socket-id":0,"thread-id":0},"execute":"device_add","id":"cpuhp-3"})",
      R"(qmp <- {"return":{},"id":"cpuhp-3"})",
      R"(qmp <- {"data":{"info":{"device":"cpu-s0c1t0","slot":"1","source":1,"status":0}},"event":"ACPI_DEVICE_OST","timestamp":{"seconds":1,"microseconds":2}})",
      R"(qmp <- {"event":"RTC_CHANGE","data":{"offset":1},"timestamp":{"seconds":1,"microseconds":2}})",
      R"(qga -> {"arguments":{"vcpus":[{"logical-id":1,"online":true}]},"execute":"guest-set-vcpus"})",
      R"(qga <- {"return":1})",
      R"(qga -> {"arguments":{"mode":"r","path":"/sys/devices/system/cpu/online"},"execute":"guest-file-open"})",
      R"(qga <- {"return":1000})",
      R"(qga -> {"arguments":{"count":65536,"handle":1000},"execute":"guest-file-read"})",
      R"(qga <- {"return":{"buf-b64":"MC0xCg==","count":4,"eof":true}})",
      R"(qga -> {"arguments":{"handle":1000},"execute":"guest-file-close"})",
      R"(qga <- {"return":{}})",
      R"(qga -> {"arguments":{"mode":"w","path":"/sys/devices/system/cpu/cpu1/online"},"execute":"guest-file-open"})",
      R"(qga <- {"return":1001})",
      R"(qga -> {"arguments":{"buf-b64":"MAo=","handle":1001},"execute":"guest-file-write"})",
      R"(qga <- {"return":{"count":2,"eof":false}})",
      R"(qga -> {"arguments":{"pid":77},"execute":"guest-exec-status"})",
      R"(qmp -> {"arguments":{"id":"cpu-s0c1t0"},"execute":"device_del","id":"cpuhp-4"})",
      R"(qmp <- {"return":{},"id":"cpuhp-4"})",
      R"(qmp <- {"data":{"path":"/machine/peripheral/cpu-s0c1t0/lapic"},"event":"DEVICE_DELETED","timestamp":{"seconds":1,"microseconds":2}})",
      R"(qmp <- {"data":{"device":"cpu-s0c1t0","path":"/machine/peripheral/cpu-s0c1t0"},"event":"DEVICE_DELETED","timestamp":{"seconds":1,"microseconds":2}})",
      R"(qmp -> {"execute":"quit","id":"cpuhp-5"})",
      R"(qmp -> {"execute":"query-status","id":"cpuhp-6"})",
  });
  std::string s = GenerateReproScript(dir_.path());
  auto at = [&](const std::string& needle) {
    size_t p = s.find(needle);
    EXPECT_NE(p, std::string::npos) << "missing: " << needle << "\n" << s;
    return p;
  };
  // QEMU listens on sockets in the script's own mktemp directory.
  at(R"(path="$dir"/qmp.sock,server=on,wait=off)");
  at(R"(path="$dir"/qga.sock,server=on,wait=off)");
  at(R"(-accel "$REPRO_ACCEL")");
  at("REPRO_ACCEL=${REPRO_ACCEL:-tcg}");
  at("-kernel /kit/vmlinux");
  at("-append 'console=ttyS0 panic=-1'");
  at("trap cleanup EXIT");
  size_t connect = at("\nqmp_connect\n");
  size_t step = at("echo '### step 1: hotplug 1 +online'");
  size_t add =
      at(R"(qmp '{"arguments":{"core-id":1,"driver":"qemu64-x86_64-cpu","id":"cpu-s0c1t0")");
  size_t ost = at(R"(qmp_event ACPI_DEVICE_OST '"cpu-s0c1t0"')");
  size_t sync = at("\nqga_connect\n");
  size_t set = at(
      R"(qga '{"arguments":{"vcpus":[{"logical-id":1,"online":true}]},"execute":"guest-set-vcpus"}')");
  size_t cat = at("qga_cat '/sys/devices/system/cpu/online'");
  size_t write = at("qga_write '/sys/devices/system/cpu/cpu1/online' 'MAo='");
  size_t del = at(R"(qmp '{"arguments":{"id":"cpu-s0c1t0"},"execute":"device_del")");
  size_t deleted = at(R"(qmp_event DEVICE_DELETED '"/machine/peripheral/cpu-s0c1t0/lapic"')");
  at(R"(qmp_event DEVICE_DELETED '"cpu-s0c1t0"')");
  // The agent is connected where the run first synced with it.
  EXPECT_LT(connect, sync);
  EXPECT_LT(sync, step);
  EXPECT_LT(step, add);
  EXPECT_LT(add, ost);
  EXPECT_LT(ost, set);
  EXPECT_LT(set, cat);
  EXPECT_LT(cat, write);
  EXPECT_LT(write, del);
  EXPECT_LT(del, deleted);
  // Not replayed: our own handshake and syncs, pid-bound polls, unrelated
  // events, file-handle plumbing, and anything after quit.
  EXPECT_EQ(s.find("\"execute\":\"qmp_capabilities\",\"id\""), std::string::npos);
  EXPECT_EQ(s.find("guest-sync-delimited"), std::string::npos);
  EXPECT_EQ(s.find("guest-exec-status"), std::string::npos);
  EXPECT_EQ(s.find("RTC_CHANGE"), std::string::npos);
  EXPECT_EQ(s.find("\"handle\":1000"), std::string::npos);
  EXPECT_EQ(s.find("query-status"), std::string::npos);
}

TEST_F(ReproScriptTest, StopsBeforeAMigration) {
  Transcript({
      R"(qmp -> {"execute":"query-hotpluggable-cpus","id":"cpuhp-2"})",
      R"(qmp -> {"arguments":{"uri":"unix:/tmp/x"},"execute":"migrate","id":"cpuhp-3"})",
      R"(qmp -> {"execute":"query-migrate","id":"cpuhp-4"})",
  });
  std::string s = GenerateReproScript(dir_.path());
  EXPECT_NE(s.find("query-hotpluggable-cpus"), std::string::npos);
  EXPECT_NE(s.find("migration is not replayed"), std::string::npos);
  EXPECT_EQ(s.find("\"execute\":\"migrate\""), std::string::npos);
  EXPECT_EQ(s.find("query-migrate"), std::string::npos);
}

TEST_F(ReproScriptTest, BashAcceptsTheScriptAndItIsExecutable) {
  Transcript({R"(qmp -> {"execute":"query-status","id":"cpuhp-2"})",
              R"(scenario -- step 1: it's "quoted")", R"(qga -> {"execute":"guest-get-vcpus"})"});
  fs::path script = WriteReproScript(dir_.path());
  EXPECT_EQ(script, dir_.path() / "repro.sh");
  EXPECT_NE(fs::status(script).permissions() & fs::perms::owner_exec, fs::perms::none);
  fs::path log = dir_.path() / "bash.log";
  Process p = Process::Spawn({.argv = {"bash", "-n", script.string()}, .output = log});
  auto status = p.Wait(Deadline::After(std::chrono::seconds(30)));
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0) << ReadFileToString(log);
}

TEST_F(ReproScriptTest, ADirectoryWithoutASpecIsRefused) {
  fs::remove(dir_.path() / "spec.json");
  EXPECT_THROW(GenerateReproScript(dir_.path()), Error);
}

TEST(SpecJsonTest, RoundTrips) {
  MachineSpec spec;
  spec.name = "x";
  spec.cpu_model = "max";
  spec.smp = {1, 8, 2, 0, 2, 2};
  spec.memory_mib = 1024;
  spec.disk = "/images/guest.qcow2";
  spec.cpu_devices.push_back(
      {"max-x86_64-cpu", "cpu-s1c0t0", CpuProps::FromJson({{"socket-id", 1}})});
  spec.incoming = "defer";
  spec.extra_args = {"-s"};
  MachineSpec back = SpecFromJson(SpecToJson(spec));
  EXPECT_EQ(back.smp, spec.smp);
  EXPECT_EQ(back.cpu_model, "max");
  EXPECT_EQ(back.disk, spec.disk);
  EXPECT_EQ(back.cpu_devices, spec.cpu_devices);
  EXPECT_EQ(back.incoming, spec.incoming);
  EXPECT_EQ(back.extra_args, spec.extra_args);
  EXPECT_EQ(BuildCommandLine(back, Accel::kTcg, {}), BuildCommandLine(spec, Accel::kTcg, {}));
}

}  // namespace
}  // namespace cpuhp
