// Snapshot boot without a guest: the template key (every command-line option
// changes it, run-specific paths do not), template validation over fabricated
// files, the boot mode a scenario gets, --jobs auto and the run order.
#include "vm/boot_template.h"

#include <gtest/gtest.h>

#include <fstream>

#include "report/progress.h"
#include "scenario/scenario_loader.h"
#include "scenario/scheduler.h"
#include "util/temp_dir.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;

class BootTemplateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(kernel_) << "kernel";
    std::ofstream(initrd_) << "initrd";
    spec_.kernel = kernel_;
    spec_.initrd = initrd_;
    spec_.append = "console=ttyS0";
    spec_.smp = {.cpus = 1, .maxcpus = 4};
  }
  std::string Key(const MachineSpec& spec) const { return MakeTemplateKey(spec, Accel::kTcg).hash; }
  fs::path WriteFile(const std::string& name, const std::string& bytes) {
    fs::path p = dir_.path() / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p;
  }
  // A template as SaveBootTemplate writes it, over `data` for `key`.
  std::string Template(const std::string& key, const std::string& data) {
    TemplateHeader h;
    h.format = kTemplateFormat;
    h.key = key;
    h.data_bytes = data.size();
    h.data_hash = HexHash(HashBytes(data.data(), data.size()));
    h.created_utc = "2026-12-07T05:00:00Z";
    return EncodeTemplateHeader(h) + data;
  }
  std::string Problem(const std::string& file_bytes, const std::string& key = "k1") {
    TemplateHeader h;
    return ValidateTemplate(WriteFile("t.tmpl", file_bytes), key, &h);
  }

  TempDir dir_{fs::temp_directory_path(), "cpuhp-template-test-"};
  fs::path kernel_ = dir_.path() / "vmlinux";
  fs::path initrd_ = dir_.path() / "initrd";
  MachineSpec spec_;
};

TEST_F(BootTemplateTest, KeyChangesWithEveryOptionThatChangesTheGuest) {
  const std::string base = Key(spec_);
  EXPECT_EQ(base.size(), 16u);
  EXPECT_EQ(Key(spec_), base) << "the key is a pure function of the spec";
  std::vector<std::pair<const char*, MachineSpec>> changed;
  auto with = [&](const char* what, auto change) {
    MachineSpec s = spec_;
    change(s);
    changed.emplace_back(what, s);
  };
  with("memory", [](MachineSpec& s) { s.memory_mib = 1024; });
  with("maxcpus", [](MachineSpec& s) { s.smp.maxcpus = 8; });
  with("cpu model", [](MachineSpec& s) { s.cpu_model = "max"; });
  with("machine type", [](MachineSpec& s) { s.machine_type = "q35,vmport=on"; });
  with("append", [](MachineSpec& s) { s.append += " possible_cpus=2"; });
  // An option no field of MachineSpec knows about (what other helpers add).
  with("extra args", [](MachineSpec& s) { s.extra_args = {"-numa", "node,nodeid=0"}; });
  with("cold-plugged CPU", [](MachineSpec& s) {
    s.cpu_devices.push_back({"qemu64-x86_64-cpu", "cpu1", CpuProps{}});
  });
  with("QEMU binary", [](MachineSpec& s) { s.qemu_binary = "/bin/true"; });
  for (const auto& [what, s] : changed) EXPECT_NE(Key(s), base) << what;
  EXPECT_NE(MakeTemplateKey(spec_, Accel::kKvm).hash, base) << "accel";
}

TEST_F(BootTemplateTest, KeyIgnoresNameSocketsLogsAndIncoming) {
  const std::string base = Key(spec_);
  MachineSpec s = spec_;
  s.name = "another-run[4,2]@qemu=10.0";
  s.incoming = "exec:tail -c +16385 /somewhere/x.tmpl";
  EXPECT_EQ(Key(s), base);

  const MachinePaths a{"/tmp/cpuhp-aaa/qmp.sock", "/tmp/cpuhp-aaa/qga.sock", "/art/one/serial.log",
                       "/tmp/cpuhp-aaa/console.sock"};
  const MachinePaths b{"/tmp/cpuhp-bbb/qmp.sock", "/tmp/cpuhp-bbb/qga.sock",
                       "/art/two,three/serial.log", "/tmp/cpuhp-bbb/console.sock"};
  MachineSpec named = spec_;
  named.name = "smoke";
  std::vector<std::string> na = NormalizeCommandLine(BuildCommandLine(named, Accel::kTcg, a), a);
  std::vector<std::string> nb = NormalizeCommandLine(BuildCommandLine(s, Accel::kTcg, b), b);
  EXPECT_EQ(na, nb);
  for (const auto& arg : na) {
    EXPECT_EQ(arg.find("cpuhp-aaa"), std::string::npos) << arg;
    EXPECT_EQ(arg.find("smoke"), std::string::npos) << arg;
  }
}

TEST_F(BootTemplateTest, KeyChangesWhenTheKernelFileChanges) {
  const std::string base = Key(spec_);
  std::ofstream(kernel_, std::ios::app) << " rebuilt";
  EXPECT_NE(Key(spec_), base) << "a rebuilt kit must not restore the old guest";
}

TEST_F(BootTemplateTest, DiskIncomingAndLibvirtSpecsAreNeverRestored) {
  EXPECT_EQ(TemplateIneligibility(spec_), "");
  MachineSpec disk = spec_;
  disk.disk = "/images/guest.qcow2";
  EXPECT_NE(TemplateIneligibility(disk).find("disk"), std::string::npos);
  MachineSpec destination = spec_;
  destination.incoming = "defer";
  EXPECT_NE(TemplateIneligibility(destination), "");
  // A libvirt spec restored from a template would run as direct QEMU.
  MachineSpec libvirt = spec_;
  libvirt.backend = "libvirt";
  EXPECT_NE(TemplateIneligibility(libvirt).find("libvirt"), std::string::npos);
}

TEST_F(BootTemplateTest, HashStreamsOverWholeWords) {
  const std::string data = "0123456789abcdef-and-a-tail";
  EXPECT_EQ(HashBytes(data.data() + 8, data.size() - 8, HashBytes(data.data(), 8)),
            HashBytes(data.data(), data.size()));
  std::string other = data;
  other[20] ^= 1;
  EXPECT_NE(HashBytes(other.data(), other.size()), HashBytes(data.data(), data.size()));
}

TEST_F(BootTemplateTest, ValidTemplatePassesValidation) {
  std::string data(100000, 'x');
  data[5] = 'Q';
  TemplateHeader h;
  EXPECT_EQ(ValidateTemplate(WriteFile("ok.tmpl", Template("k1", data)), "k1", &h), "");
  EXPECT_EQ(h.key, "k1");
  EXPECT_EQ(h.data_bytes, data.size());
}

TEST_F(BootTemplateTest, TruncatedCorruptForeignAndAlienFilesAreRefused) {
  // Longer than one read chunk, and not a multiple of 8.
  std::string data(3 * 1024 * 1024 + 5, 'y');
  data[2 * 1024 * 1024 + 3] = 'q';
  const std::string good = Template("k1", data);
  EXPECT_EQ(Problem(good), "");
  EXPECT_EQ(Problem(good.substr(0, good.size() - 1)).rfind("truncated", 0), 0u);
  EXPECT_EQ(Problem(good.substr(0, 100)).rfind("truncated", 0), 0u);
  std::string flipped = good;
  flipped[kTemplateHeaderBytes + 1024 * 1024 + 30000] = 'z';
  EXPECT_EQ(Problem(flipped).rfind("corrupt", 0), 0u);
  EXPECT_EQ(Problem(good, "k2").rfind("foreign", 0), 0u);
  EXPECT_EQ(Problem(std::string(kTemplateHeaderBytes + 10, 'Q')), "not a cpuhp boot template (no magic line)");
  EXPECT_EQ(Problem(""), "not a cpuhp boot template (no magic line)");
  std::string bad_json = good;
  bad_json[std::strlen(kTemplateMagic)] = '#';
  EXPECT_EQ(Problem(bad_json).rfind("corrupt", 0), 0u);
  TemplateHeader h;
  EXPECT_NE(ValidateTemplate(dir_.path() / "absent.tmpl", "k1", &h), "");
}

TEST_F(BootTemplateTest, ListAndClearSeeOnlyTemplates) {
  setenv("CPUHP_CACHE_DIR", dir_.path().c_str(), 1);
  fs::create_directories(TemplateDir());
  std::ofstream(TemplatePath("aaaa"), std::ios::binary) << Template("aaaa", "data");
  std::ofstream(TemplateDir() / "bbbb.tmpl") << "junk";
  std::ofstream(TemplateDir() / "cccc.tmp-1-0") << "half-written";
  std::ofstream(TemplateDir() / "keep.txt") << "not ours";
  std::vector<TemplateEntry> list = ListTemplates();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_TRUE(list[0].header);
  EXPECT_FALSE(list[1].header);
  EXPECT_NE(list[1].problem, "");
  EXPECT_EQ(ClearTemplates(), 3);
  EXPECT_TRUE(ListTemplates().empty());
  EXPECT_TRUE(fs::exists(TemplateDir() / "keep.txt"));
  unsetenv("CPUHP_CACHE_DIR");
}

TEST_F(BootTemplateTest, BootModeParsesAndDefaultsFromTheEnvironment) {
  BootMode m = BootMode::kCold;
  EXPECT_TRUE(ParseBootMode("snapshot", &m));
  EXPECT_EQ(m, BootMode::kSnapshot);
  EXPECT_TRUE(ParseBootMode("cold", &m));
  EXPECT_EQ(m, BootMode::kCold);
  EXPECT_FALSE(ParseBootMode("warm", &m));
  setenv("CPUHP_BOOT", "cold", 1);
  EXPECT_EQ(DefaultBootMode(), BootMode::kCold);
  setenv("CPUHP_BOOT", "snapshot", 1);
  EXPECT_EQ(DefaultBootMode(), BootMode::kSnapshot);
  unsetenv("CPUHP_BOOT");
}

class ScenarioBootTest : public ::testing::Test {
 protected:
  ScenarioRun Load(const std::string& text) {
    fs::path p = dir_.path() / "s.yaml";
    std::ofstream(p) << text;
    auto runs = LoadScenarioRuns(p);
    EXPECT_EQ(runs.size(), 1u);
    return runs.at(0);
  }
  TempDir dir_{fs::temp_directory_path(), "cpuhp-boot-scenario-test-"};
};

TEST_F(ScenarioBootTest, ColdWhenAskedOrWhenAStepNeedsTheBoot) {
  unsetenv("CPUHP_BOOT");
  std::string why;
  ScenarioRun plain = Load("name: a\nmachine: {smp: {cpus: 1, maxcpus: 2}}\nsteps: [check]\n");
  EXPECT_EQ(plain.machine.boot, std::nullopt);
  EXPECT_EQ(EffectiveBootMode(plain, std::nullopt, &why), BootMode::kSnapshot);
  EXPECT_EQ(EffectiveBootMode(plain, BootMode::kCold, &why), BootMode::kCold);
  EXPECT_EQ(why, "--boot cold");

  ScenarioRun cold = Load("name: a\nmachine: {boot: cold}\nsteps: [check]\n");
  EXPECT_EQ(cold.machine.boot, BootMode::kCold);
  EXPECT_EQ(EffectiveBootMode(cold, BootMode::kSnapshot, &why), BootMode::kCold);
  EXPECT_EQ(why, "machine.boot: cold");

  ScenarioRun console = Load(
      "name: a\nsteps:\n  - repeat:\n      times: 2\n      steps:\n        - wait_for_console: "
      "'Linux version'\n");
  EXPECT_EQ(EffectiveBootMode(console, BootMode::kSnapshot, &why), BootMode::kCold);
  EXPECT_NE(why.find("wait_for_console"), std::string::npos) << why;
  EXPECT_TRUE(StepKindInfoOf(StepKind::kWaitForConsole).needs_cold_boot);
  EXPECT_FALSE(StepKindInfoOf(StepKind::kHotplug).needs_cold_boot);
}

TEST_F(ScenarioBootTest, BadBootValueNamesTheField) {
  fs::path p = dir_.path() / "bad.yaml";
  std::ofstream(p) << "name: a\nmachine: {boot: warm}\nsteps: [check]\n";
  try {
    LoadScenarioRuns(p);
    FAIL() << "boot: warm was accepted";
  } catch (const ScenarioError& e) {
    EXPECT_EQ(e.where().line, 2);
    EXPECT_NE(std::string(e.what()).find("warm"), std::string::npos) << e.what();
  }
}

TEST_F(ScenarioBootTest, AutoJobsFollowCoresAndMemory) {
  std::vector<ScenarioRun> runs(8);
  for (auto& r : runs) r.machine.spec.memory_mib = 512;
  EXPECT_EQ(AutoJobCount(2, 24000, runs), 2) << "cores bound it";
  EXPECT_EQ(AutoJobCount(16, 24000, runs), 8) << "never more than runs";
  EXPECT_EQ(AutoJobCount(16, 3 * (512 + kQemuOverheadMib), runs), 3) << "memory bounds it";
  runs[3].machine.spec.memory_mib = 4096;
  EXPECT_EQ(AutoJobCount(16, 3 * (512 + kQemuOverheadMib), runs), 1) << "the largest guest counts";
  EXPECT_EQ(AutoJobCount(0, 0, runs), 1) << "at least one";
  EXPECT_GE(HostCores(), 1);
  EXPECT_GT(HostAvailableMib(), 0);
}

TEST_F(ScenarioBootTest, LongestRunsStartFirst) {
  ScenarioRun short_run = Load("name: s\nsteps: [check]\n");
  ScenarioRun migrations = Load("name: m\nsteps:\n  - migrate: {times: 4}\n");
  ScenarioRun sleepy = Load("name: z\nsteps:\n  - sleep: 30s\n");
  ScenarioRun repeated = Load("name: r\nsteps:\n  - repeat:\n      times: 5\n      steps: [hotplug, unplug]\n");
  EXPECT_GT(EstimateRunSeconds(migrations), EstimateRunSeconds(short_run));
  EXPECT_GT(EstimateRunSeconds(repeated), EstimateRunSeconds(short_run));
  std::vector<ScenarioRun> runs = {short_run, migrations, sleepy, repeated, short_run};
  EXPECT_EQ(LongestFirstOrder(runs), (std::vector<size_t>{2, 3, 1, 0, 4}));
}

TEST(QueueLineTest, CountsRunningWaitingAndDone) {
  EXPECT_EQ(QueueLine(16, 2, 9), "queue: 2 running, 5 waiting, 9 of 16 done");
  EXPECT_EQ(QueueLine(3, 0, 3), "queue: 0 running, 0 waiting, 3 of 3 done");
  EXPECT_EQ(QueueLine(3, 2, 3), "queue: 2 running, 0 waiting, 3 of 3 done") << "never negative";
}

}  // namespace
}  // namespace cpuhp
