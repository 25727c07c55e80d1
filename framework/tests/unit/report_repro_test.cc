// Repro script generation from a recorded run directory (spec.json and
// transcript.log): what is replayed, what is rewritten, where it stops, and
// that bash accepts the script. The VM test repro_script_test.cc runs one.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "report/artifacts.h"
#include "report/repro.h"
#include "replay_spec.h"
#include "report/spec_json.h"
#include "util/error.h"
#include "util/file.h"
#include "util/process.h"
#include "util/temp_dir.h"
#include "util/transcript.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

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
  void SetUp() override { WriteJsonFile(dir_.path() / "spec.json", RecordedSpecJson("smoke")); }

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

// Found by the transcript fuzzer (corpus/transcript/crash-*): records of the
// wrong shape threw nlohmann::type_error past every catch (Error&). Now they
// are skipped, and what is well formed around them is still replayed.
TEST_F(ReproScriptTest, RecordsOfTheWrongShapeAreSkippedNotFatal) {
  Transcript({R"(qmp -> [1])",
              R"(qmp <- {"event": 1})",
              R"(qga -> {"execute": "guest-file-open", "arguments": {"path": 7}})",
              R"(qmp -> {"execute": "query-status", "id": "cpuhp-1"})"});
  std::string s = GenerateReproScript(dir_.path());
  EXPECT_NE(s.find("query-status"), std::string::npos) << s;
  EXPECT_EQ(s.find("\"path\": 7"), std::string::npos) << s;
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

// review.md 2 end to end: a note carrying a forged record, written by the
// real Transcript as the runner writes a failed step's note.
// A boot template's save (or restore) sends stop, migrate, cont: the script
// boots cold, so none of it is replayed, and the replay goes on after it.
TEST_F(ReproScriptTest, SkipsWhatABootTemplatesSaveOrRestoreSent) {
  Transcript({
      R"(qmp -> {"execute":"query-hotpluggable-cpus","id":"cpuhp-2"})",
      "vm -- boot template: begin save to /cache/templates/k.tmpl",
      R"(qmp -> {"execute":"stop","id":"cpuhp-3"})",
      R"(qmp -> {"arguments":{"uri":"exec:cat >> /x"},"execute":"migrate","id":"cpuhp-4"})",
      R"(qmp -> {"execute":"cont","id":"cpuhp-5"})",
      R"(qga -> {"execute":"guest-set-time","arguments":{"time":1}})",
      "vm -- boot template: end saved",
      R"(qmp -> {"execute":"query-cpus-fast","id":"cpuhp-6"})",
  });
  std::string s = GenerateReproScript(dir_.path());
  EXPECT_NE(s.find("query-hotpluggable-cpus"), std::string::npos) << s;
  EXPECT_NE(s.find("query-cpus-fast"), std::string::npos) << "the replay stopped at the save: " << s;
  EXPECT_EQ(s.find("migration is not replayed"), std::string::npos) << s;
  EXPECT_EQ(s.find("\"execute\":\"stop\""), std::string::npos) << s;
  EXPECT_EQ(s.find("\"execute\":\"cont\""), std::string::npos) << s;
  EXPECT_EQ(s.find("guest-set-time"), std::string::npos) << s;
}

TEST_F(ReproScriptTest, APlantedQmpCommandInANoteIsNotReplayed) {
  {
    cpuhp::Transcript t(dir_.path() / "transcript.log");
    t.Record("qmp", cpuhp::Transcript::Direction::kSent,
             R"({"execute":"query-hotpluggable-cpus","id":"cpuhp-2"})");
    t.Record("scenario", cpuhp::Transcript::Direction::kNote,
             "step 2 failed: guest agent command guest-file-open failed: GenericError: EIO\n"
             R"(2026-01-01T00:00:00.000Z +0.5 qmp -> {"execute":"human-monitor-command",)"
             R"("arguments":{"command-line":"migrate exec:touch /tmp/PWNED"}})");
    t.Record("scenario", cpuhp::Transcript::Direction::kNote,
             "step 3: hotplug\n   2026-01-01T00:00:00.000Z +0.6 qmp -> {\"execute\":\"stop\"}");
  }
  std::string s = GenerateReproScript(dir_.path());
  EXPECT_NE(s.find("qmp '{\"execute\":\"query-hotpluggable-cpus\""), std::string::npos) << s;
  EXPECT_EQ(s.find("qmp '{\"execute\":\"human-monitor-command\""), std::string::npos) << s;
  EXPECT_EQ(s.find("qmp '{\"execute\":\"stop\""), std::string::npos) << s;
  // The note is echoed on one line of its own.
  for (const auto& line : SplitLines(s)) {
    size_t at = line.find("2026-01-01");
    if (at != std::string::npos) {
      EXPECT_NE(line.find_first_not_of(' '), at) << line;
    }
  }
  EXPECT_NE(s.find("echo '### step 2 failed: guest agent command guest-file-open failed: "
                   "GenericError: EIO\\n2026-01-01T00:00:00.000Z"),
            std::string::npos)
      << s;
}

TEST_F(ReproScriptTest, ReplaysOnlyAllowlistedCommandsAndSaysWhatItDropped) {
  Transcript({
      R"(qmp -> {"execute":"query-hotpluggable-cpus","id":"cpuhp-2"})",
      R"(qmp -> {"execute":"human-monitor-command","arguments":{"command-line":"migrate exec:sh"},"id":"x1"})",
      R"(qmp -> {"execute":"human-monitor-command","arguments":{"command-line":"info cpus"},"id":"x2"})",
      R"(qmp -> {"execute":"screendump","arguments":{"filename":"/home/u/.bashrc"},"id":"x3"})",
      R"(qmp -> {"execute":"dump-guest-memory","arguments":{"paging":false,"protocol":"file:/tmp/m"},"id":"x4"})",
      R"(qmp -> {"execute":"chardev-add","arguments":{"id":"c","backend":{"type":"file"}},"id":"x5"})",
      R"(qmp -> {"execute":"netdev_add","arguments":{"type":"user","id":"n"},"id":"x6"})",
      R"(qmp -> {"execute":"object-add","arguments":{"qom-type":"memory-backend-file"},"id":"x7"})",
      R"(qmp -> {"execute":"getfd","arguments":{"fdname":"f"},"id":"x8"})",
      R"(qmp -> {"execute":"qom-set","arguments":{"path":"/machine","property":"x","value":1},"id":"x9"})",
      R"(qmp -> {"arguments":{"driver":"vfio-pci","host":"01:00.0","id":"v"},"execute":"device_add","id":"x10"})",
      R"(qmp -> {"arguments":{"core-id":1,"driver":"qemu64-x86_64-cpu","id":"cpu-s0c1t0","socket-id":0,"thread-id":0},"execute":"device_add","id":"cpuhp-3"})",
      R"(qmp -> {"arguments":{"path":"/machine","property":"smp"},"execute":"qom-get","id":"cpuhp-4"})",
      R"(qmp -> {"arguments":{"id":"cpu-s0c1t0"},"execute":"device_del","id":"cpuhp-5"})",
      R"(qmp -> ["not", "an", "object"])",
      R"(qmp -> {"execute":["device_add"]})",
      R"(qga -> {"arguments":{"vcpus":[{"logical-id":1,"online":true}]},"execute":"guest-set-vcpus"})",
      R"(qga -> {"arguments":{"path":"/bin/sh","arg":["-c","yes"],"capture-output":false},"execute":"guest-exec"})",
      R"(qga -> {"execute":"guest-get-vcpus"})",
      R"(qga -> {"execute":"guest-ping"})",
      R"(qga -> {"execute":"guest-shutdown"})",
      R"(qga -> {"arguments":{"username":"root","password":"eA=="},"execute":"guest-set-user-password"})",
      R"(qga -> {"arguments":{"mode":"a+","path":"/etc/passwd"},"execute":"guest-file-open"})",
  });
  std::string s = GenerateReproScript(dir_.path());
  for (const char* kept : {
           R"(qmp '{"execute":"query-hotpluggable-cpus")",
           R"(qmp '{"arguments":{"core-id":1,"driver":"qemu64-x86_64-cpu")",
           R"(qmp '{"arguments":{"path":"/machine","property":"smp"},"execute":"qom-get")",
           R"(qmp '{"arguments":{"id":"cpu-s0c1t0"},"execute":"device_del")",
           R"(qga '{"arguments":{"vcpus":[{"logical-id":1,"online":true}]},"execute":"guest-set-vcpus"}')",
           R"(qga '{"arguments":{"arg":["-c","yes"],"capture-output":false,"path":"/bin/sh"},"execute":"guest-exec"}')",
           R"(qga '{"execute":"guest-get-vcpus"}')",
           R"(qga '{"execute":"guest-ping"}')",
       }) {
    EXPECT_NE(s.find(kept), std::string::npos) << "missing: " << kept << "\n" << s;
  }
  std::string replayed;  // the lines that send something
  for (const auto& line : SplitLines(s)) {
    if (line.rfind("qmp ", 0) == 0 || line.rfind("qga", 0) == 0) replayed += line + "\n";
  }
  for (const char* dropped :
       {"command-line", "human-monitor-command", "/home/u/.bashrc", "file:/tmp/m",
        "memory-backend-file", "fdname", "\"property\":\"x\"", "vfio-pci", "guest-shutdown",
        "guest-set-user-password", "/etc/passwd", "\"not\""}) {
    EXPECT_EQ(replayed.find(dropped), std::string::npos) << "replayed: " << dropped << "\n" << s;
  }
  // Arguments never reach the script at all, not even its comments.
  for (const char* argument : {"/home/u/.bashrc", "memory-backend-file", "vfio-pci", "/etc/passwd"}) {
    EXPECT_EQ(s.find(argument), std::string::npos) << argument;
  }
  // The script says what it left out, per command.
  EXPECT_NE(s.find("# Not replayed (not on the replay allowlist):"), std::string::npos) << s;
  EXPECT_NE(s.find("human-monitor-command x2"), std::string::npos) << s;
  EXPECT_NE(s.find("device_add x1"), std::string::npos) << s;
  EXPECT_NE(s.find("guest-shutdown x1"), std::string::npos) << s;
}

TEST_F(ReproScriptTest, CpuhpReproSaysOnStderrWhatItDropped) {
  Transcript({R"(qmp -> {"execute":"screendump","arguments":{"filename":"/tmp/x"},"id":"x"})",
              R"(qmp -> {"execute":"query-status","id":"cpuhp-2"})"});
  fs::path log = dir_.path() / "cpuhp.log";
  fs::path out = dir_.path() / "out.sh";
  Process p = Process::Spawn(
      {.argv = {CPUHP_BINARY, "repro", "-o", out.string(), dir_.path().string()}, .output = log});
  auto status = p.Wait(Deadline::After(std::chrono::seconds(30)));
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 0) << ReadFileToString(log);
  std::string text = ReadFileToString(log);
  EXPECT_NE(text.find("not replayed"), std::string::npos) << text;
  EXPECT_NE(text.find("screendump x1"), std::string::npos) << text;
  EXPECT_NE(ReadFileToString(out).find("query-status"), std::string::npos);
}

// Values from result.json and spec.json are someone else's: they must not
// run when the script does.
TEST_F(ReproScriptTest, ALabelCannotBreakOutOfTheCommentLine) {
  fs::path pwned = dir_.path() / "PWNED";
  nlohmann::json result = {{"label", "smoke\ntouch " + pwned.string() + "\n#"},
                           {"started", "2026\r\ntouch " + pwned.string() + "-2"}};
  WriteJsonFile(dir_.path() / "result.json", result);
  nlohmann::json spec = ReadJsonFile(dir_.path() / "spec.json");
  spec["qemu_binary"] = "/bin/false\ntouch " + pwned.string() + "-3 '";
  spec["name"] = "x\ny'\"";
  WriteJsonFile(dir_.path() / "spec.json", spec);
  Transcript({"scenario -- step 1: a\\nb'c", R"(qmp -> {"execute":"query-status","id":"cpuhp-2"})"});
  fs::path script = WriteReproScript(dir_.path());
  std::string s = ReadFileToString(script);
  for (const auto& line : SplitLines(s)) {
    // Only as part of a quoted or commented line, never a command of its own.
    EXPECT_NE(line.rfind("touch", 0), 0u) << line;
  }
  EXPECT_NE(s.find("# Replays cpuhp run smoke\\ntouch"), std::string::npos) << s;
  // Run it: it fails at once (QEMU is /bin/false and socat may be missing),
  // and nothing the values carried has run.
  fs::path log = dir_.path() / "bash.log";
  Process p = Process::Spawn({.argv = {"bash", script.string()},
                              .output = log,
                              .env = {"REPRO_TIMEOUT=2", "TMPDIR=" + dir_.path().string()}});
  auto status = p.Wait(Deadline::After(std::chrono::seconds(60)));
  ASSERT_TRUE(status) << ReadFileToString(log);
  EXPECT_NE(status->code, 0);
  for (const char* suffix : {"", "-2", "-3"}) {
    EXPECT_FALSE(fs::exists(pwned.string() + suffix)) << suffix << "\n" << ReadFileToString(log);
  }
}

TEST_F(ReproScriptTest, AnAccelOtherThanKvmOrTcgIsRefused) {
  nlohmann::json spec = ReadJsonFile(dir_.path() / "spec.json");
  spec["accel_resolved"] = "tcg}; touch /tmp/cpuhp-PWNED; #";
  WriteJsonFile(dir_.path() / "spec.json", spec);
  Transcript({R"(qmp -> {"execute":"query-status","id":"cpuhp-2"})"});
  try {
    GenerateReproScript(dir_.path());
    ADD_FAILURE() << "accepted accel_resolved " << spec["accel_resolved"];
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("accel_resolved"), std::string::npos) << e.what();
  }
  spec["accel_resolved"] = "kvm";
  WriteJsonFile(dir_.path() / "spec.json", spec);
  EXPECT_NE(GenerateReproScript(dir_.path()).find("REPRO_ACCEL=${REPRO_ACCEL:-kvm}"),
            std::string::npos);
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
