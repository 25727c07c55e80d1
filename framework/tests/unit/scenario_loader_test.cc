// The scenario format: what valid files turn into, and the precise error
// each malformed file in tests/data/bad-scenarios gets (its first line says
// which: "# expect: LINE:COL: MESSAGE", a trailing "..." meaning "starts with").
#include "scenario/scenario_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include <fstream>

#include "scenario/duration.h"
#include "scenario/machine_config.h"
#include "scenario/topology.h"
#include "util/temp_dir.h"
#include "util/text.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;

class ScenarioFileTest : public ::testing::Test {
 protected:
  fs::path Write(const std::string& name, const std::string& text) {
    fs::path p = dir_.path() / name;
    std::ofstream(p) << text;
    return p;
  }
  std::vector<ScenarioRun> Load(const std::string& text) {
    return LoadScenarioRuns(Write("s.yaml", text));
  }
  // The error loading `text` gives, without the file name.
  std::string ErrorOf(const std::string& text) {
    try {
      Load(text);
    } catch (const ScenarioError& e) {
      return std::to_string(e.where().line) + ":" + std::to_string(e.where().column) + ": " +
             e.detail();
    }
    return "(no error)";
  }
  TempDir dir_{fs::temp_directory_path(), "cpuhp-scenario-test-"};
};

TEST_F(ScenarioFileTest, SmokeShapedScenarioParsesWithDefaults) {
  auto runs = Load(R"(
name: smoke
machine:
  smp: {cpus: 1, maxcpus: 4}
steps:
  - hotplug: {count: max}
  - online: all
  - check
  - unplug: all
  - check
)");
  ASSERT_EQ(runs.size(), 1u);
  const ScenarioRun& run = runs[0];
  EXPECT_EQ(run.label, "smoke");
  EXPECT_EQ(run.machine.backend, "qemu");
  EXPECT_EQ(run.machine.spec.machine_type, "q35");
  EXPECT_EQ(run.machine.spec.memory_mib, 512);
  EXPECT_EQ(run.machine.spec.accel, Accel::kAuto);
  // Resolved at load time, so that `cpuhp list` shows what boots.
  EXPECT_EQ(run.machine.spec.cpu_model, "qemu64");
  EXPECT_EQ(run.machine.spec.smp.MaxCpus(), 4);
  ASSERT_EQ(run.steps.size(), 5u);
  EXPECT_EQ(run.steps[0].kind, StepKind::kHotplug);
  EXPECT_TRUE(std::get<HotplugStep>(run.steps[0].params).max);
  EXPECT_FALSE(std::get<HotplugStep>(run.steps[0].params).online);
  EXPECT_EQ(run.steps[0].timeout, DefaultStepTimeout(StepKind::kHotplug));
  EXPECT_EQ(run.steps[0].where.line, 6);
  EXPECT_EQ(run.steps[0].where.column, 5);
  EXPECT_TRUE(std::get<SetOnlineStep>(run.steps[1].params).all);
  EXPECT_TRUE(std::get<SetOnlineStep>(run.steps[1].params).online);
  EXPECT_EQ(run.steps[2].kind, StepKind::kCheck);
  EXPECT_TRUE(std::get<CheckStep>(run.steps[2].params).only.empty());
  EXPECT_TRUE(std::get<UnplugStep>(run.steps[3].params).all);
}

TEST_F(ScenarioFileTest, TheCpuModelDefaultsToMaxWhenTheTopologyHasThreads) {
  auto runs = Load("machine: {smp: {cpus: 2, maxcpus: 4, sockets: 1, cores: 2, threads: 2}}\n"
                   "steps: [check]\n");
  EXPECT_EQ(runs[0].machine.spec.cpu_model, "max");
  EXPECT_EQ(ErrorOf("machine: {cpu: ''}\nsteps: [check]\n"),
            "1:16: machine.cpu: the CPU model is empty");
}

TEST_F(ScenarioFileTest, TheKitIsAppliedAtLoadTimeAndAMissingOneIsLeftForBoot) {
  fs::create_directories(dir_.path() / "kit");
  Write("kit/vmlinuz", "");
  Write("kit/initrd.img", "");
  Write("kit/kit.env", "KERNEL='" + (dir_.path() / "kit/vmlinuz").string() + "'\nINITRD='" +
                           (dir_.path() / "kit/initrd.img").string() +
                           "'\nAPPEND='console=ttyS0 quiet'\n");
  auto runs = LoadScenarioRuns(Write("kit.yaml", "machine: {kit: kit}\nsteps: [check]\n"));
  const MachineSpec& spec = runs[0].machine.spec;
  EXPECT_EQ(runs[0].machine.kit, dir_.path() / "kit");
  EXPECT_EQ(spec.kernel, dir_.path() / "kit/vmlinuz");
  EXPECT_EQ(spec.initrd, dir_.path() / "kit/initrd.img");
  EXPECT_EQ(spec.append, "console=ttyS0 quiet");

  // The scenario's own append wins over the kit's.
  runs = LoadScenarioRuns(
      Write("append.yaml", "machine: {kit: kit, append: 'console=ttyS0 nosmt'}\nsteps: [check]\n"));
  EXPECT_EQ(runs[0].machine.spec.append, "console=ttyS0 nosmt");

  // No kit there: the scenario still loads (list and validate need no kit);
  // booting it fails with Load's message.
  runs = LoadScenarioRuns(Write("nokit.yaml", "machine: {kit: no-such-kit}\nsteps: [check]\n"));
  EXPECT_TRUE(runs[0].machine.spec.kernel.empty());
  EXPECT_EQ(runs[0].machine.kit, dir_.path() / "no-such-kit");
}

TEST_F(ScenarioFileTest, HotplugCpusSaysHowManyHotAddedCpusTheGuestTakes) {
  EXPECT_FALSE(Load("steps: [check]\n")[0].machine.hotplug_cpus.has_value());
  EXPECT_FALSE(Load("machine: {hotplug_cpus: all}\nsteps: [check]\n")[0].machine.hotplug_cpus);
  EXPECT_EQ(Load("machine: {hotplug_cpus: none}\nsteps: [check]\n")[0].machine.hotplug_cpus, 0);
  // smp may come after it: the bound is checked against the whole machine.
  EXPECT_EQ(Load("machine: {hotplug_cpus: 2, smp: {cpus: 2, maxcpus: 4}}\nsteps: [check]\n")[0]
                .machine.hotplug_cpus,
            2);
  EXPECT_EQ(ErrorOf("machine: {hotplug_cpus: some}\nsteps: [check]\n"),
            "1:25: machine.hotplug_cpus: expected all, none or a number of CPUs, got \"some\"");
  EXPECT_EQ(ErrorOf("machine:\n  hotplug_cpus: [1]\nsteps: [check]\n"),
            "2:17: machine.hotplug_cpus: expected all, none or a number of CPUs, got a list");
  EXPECT_EQ(ErrorOf("machine: {smp: {cpus: 1, maxcpus: 4}, hotplug_cpus: 4}\nsteps: [check]\n"),
            "1:53: machine.hotplug_cpus: 4 is more than the 3 hot-pluggable CPUs of -smp "
            "1,maxcpus=4");
  EXPECT_EQ(ErrorOf("machine: {hotplug_cpus: -1}\nsteps: [check]\n"),
            "1:25: machine.hotplug_cpus: expected all, none or a number of CPUs, got \"-1\"");
}

// What the runner's boot check says, from the guest's masks and its own line.
TEST(HotplugCpusProblem, AGuestThatAllowsTooFewIsNamedWithItsConsoleLine) {
  MachineConfig m;
  m.spec.smp = {.cpus = 1, .maxcpus = 4};
  const CpuSet one = CpuSet::Parse("0"), all = CpuSet::Parse("0-3");
  auto line = ParseCpuAllowanceLine("CPU topo: Allowing 1 present CPUs plus 0 hotplug CPUs");
  EXPECT_EQ(HotplugCpusProblem(m, all, one, std::nullopt), "");
  EXPECT_EQ(HotplugCpusProblem(m, one, one, line),
            "the guest allows 1 of QEMU's 4 CPUs (possible 0; kernel: \"CPU topo: Allowing 1 "
            "present CPUs plus 0 hotplug CPUs\"): it cannot take hot-added CPUs, so every hotplug "
            "would be refused; see docs/known-issues.md (a scenario that boots such a guest on "
            "purpose says machine: {hotplug_cpus: none})");
  EXPECT_EQ(HotplugCpusProblem(m, CpuSet::Parse("0-1"), one, std::nullopt),
            "the guest allows 2 of QEMU's 4 CPUs (possible 0-1; no \"Allowing ... CPUs\" line on "
            "the console or in the guest's boot log): it can take only 1 of QEMU's 3 "
            "hot-pluggable CPUs, so the rest would be refused; see docs/known-issues.md (a "
            "scenario that boots such a guest on purpose says machine: {hotplug_cpus: 1})");
  // Said on purpose, the count must be right, both ways.
  m.hotplug_cpus = 0;
  EXPECT_EQ(HotplugCpusProblem(m, one, one, line), "");
  EXPECT_EQ(HotplugCpusProblem(m, all, one, std::nullopt),
            "the scenario expects the guest to take no hot-added CPUs (machine: hotplug_cpus: "
            "none), but the guest allows 4 of QEMU's 4 CPUs (possible 0-3; no \"Allowing ... "
            "CPUs\" line on the console or in the guest's boot log): it takes 3");
  m.hotplug_cpus = 1;
  EXPECT_EQ(HotplugCpusProblem(m, CpuSet::Parse("0-1"), one, std::nullopt), "");
  EXPECT_NE(HotplugCpusProblem(m, one, one, line).find("): it takes 0"), std::string::npos);
}

TEST_F(ScenarioFileTest, AMasqueradeIsAppliedToTheSpecThatBoots) {
  auto runs = Load("machine: {masquerade: vmware, cpu: max}\nsteps: [check]\n");
  EXPECT_EQ(runs[0].machine.masquerade, "vmware");
  EXPECT_EQ(runs[0].machine.spec.machine_type, "q35,vmport=on");
  EXPECT_EQ(runs[0].machine.spec.cpu_model, "max,-hypervisor");
  EXPECT_EQ(ErrorOf("machine: {masquerade: kvm}\nsteps: [check]\n"),
            "1:23: machine.masquerade: expected one of none, vmware, got \"kvm\"");
}

TEST_F(ScenarioFileTest, NameDefaultsToTheFileStem) {
  auto runs = LoadScenarioRuns(Write("my-test.yaml", "steps: [check]\n"));
  EXPECT_EQ(runs.at(0).scenario, "my-test");
}

TEST_F(ScenarioFileTest, StepOptionsTimeoutAndName) {
  auto runs = Load(R"(
machine: {smp: {cpus: 1, maxcpus: 4, sockets: 4, cores: 1, threads: 1}, memory: 1G, cpu: max}
steps:
  - hotplug: {socket: 2, core: 0, thread: 0, id: third, online: true}
    timeout: 90s
    name: plug the third socket
  - offline: {cpus: [2]}
  - online: "2"
  - check: {only: [present-count], settle: false}
  - unplug: third
)");
  const auto& steps = runs[0].steps;
  EXPECT_EQ(runs[0].machine.spec.memory_mib, 1024);
  EXPECT_EQ(runs[0].machine.spec.cpu_model, "max");
  const auto& h = std::get<HotplugStep>(steps[0].params);
  ASSERT_TRUE(h.props);
  EXPECT_EQ(h.props->socket_id, 2);
  EXPECT_EQ(h.id, "third");
  EXPECT_TRUE(h.online);
  EXPECT_EQ(steps[0].timeout, std::chrono::seconds(90));
  EXPECT_EQ(steps[0].name, "plug the third socket");
  EXPECT_EQ(std::get<SetOnlineStep>(steps[1].params).cpus, CpuSet({2}));
  EXPECT_FALSE(std::get<SetOnlineStep>(steps[1].params).online);
  EXPECT_EQ(std::get<SetOnlineStep>(steps[2].params).cpus, CpuSet({2}));
  EXPECT_EQ(std::get<CheckStep>(steps[3].params).only, std::vector<std::string>{"present-count"});
  EXPECT_FALSE(std::get<CheckStep>(steps[3].params).settle);
  EXPECT_EQ(std::get<UnplugStep>(steps[4].params).ids, std::vector<std::string>{"third"});
}

TEST_F(ScenarioFileTest, MatrixExpandsIntoLabelledRunsWithTheirOwnValues) {
  auto runs = Load(R"(
name: topo
matrix:
  topo:
    flat: {cpus: 1, maxcpus: 4}
    smt: {cpus: 1, maxcpus: 8, sockets: 2, cores: 2, threads: 2}
  type: [q35, pc]
machine:
  type: ${type}
  smp: ${topo}
steps:
  - hotplug: {count: max}
)");
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(runs[0].label, "topo[flat,q35]");
  EXPECT_EQ(runs[1].label, "topo[flat,pc]");
  EXPECT_EQ(runs[3].label, "topo[smt,pc]");
  EXPECT_EQ(runs[0].machine.spec.smp.MaxCpus(), 4);
  EXPECT_EQ(runs[2].machine.spec.smp.MaxCpus(), 8);
  EXPECT_EQ(runs[2].machine.spec.smp.threads, 2);
  EXPECT_EQ(runs[1].machine.spec.machine_type, "pc");
  EXPECT_EQ(runs[2].matrix.at(0), (std::pair<std::string, std::string>{"topo", "smt"}));
  EXPECT_EQ(runs[2].DirName(), "topo[smt,q35]");
}

TEST_F(ScenarioFileTest, VariablesSubstituteInsideStrings) {
  auto runs = Load(R"(
vars: {n: 2, slow: 3}
steps:
  - hotplug: ${n}
    timeout: ${slow}m
  - unplug: {count: "${n}"}
)");
  EXPECT_EQ(std::get<HotplugStep>(runs[0].steps[0].params).count, 2);
  EXPECT_EQ(runs[0].steps[0].timeout, std::chrono::minutes(3));
  EXPECT_EQ(std::get<UnplugStep>(runs[0].steps[1].params).count, 2);
}

TEST_F(ScenarioFileTest, RepeatAndExpectationsNest) {
  auto runs = Load(R"(
machine: {smp: {cpus: 1, maxcpus: 2, sockets: 2, cores: 1, threads: 1}}
steps:
  - expect_error:
      class: GenericError
      message: unpluggable
      step: {unplug: {socket: 0, core: 0, thread: 0}}
  - repeat:
      times: 3
      steps: [{hotplug: 1}, check, {unplug: 1}]
  - repeat: {duration: 10s, steps: [{offline: all}, {online: all}]}
  - expect_failure:
      invariant: present-count
      step: check
)");
  const auto& steps = runs[0].steps;
  const auto& e = std::get<ExpectErrorStep>(steps[0].params);
  EXPECT_EQ(e.error_class, "GenericError");
  EXPECT_EQ(e.message, "unpluggable");
  ASSERT_EQ(e.step.size(), 1u);
  EXPECT_EQ(e.step[0].kind, StepKind::kUnplug);
  const auto& r = std::get<RepeatStep>(steps[1].params);
  EXPECT_EQ(r.times, 3);
  EXPECT_EQ(r.steps.size(), 3u);
  EXPECT_EQ(std::get<RepeatStep>(steps[2].params).duration, std::chrono::seconds(10));
  const auto& f = std::get<ExpectFailureStep>(steps[3].params);
  EXPECT_EQ(f.invariants, std::vector<std::string>{"present-count"});
  EXPECT_EQ(f.step[0].kind, StepKind::kCheck);
}

TEST_F(ScenarioFileTest, MigrateTurnsTheReturnPathOffButNotForPostcopy) {
  auto runs = Load("steps:\n  - migrate\n  - migrate: {return_path: false, cancel_after_ms: 9}\n");
  EXPECT_TRUE(std::get<MigrateStep>(runs[0].steps[0].params).options.return_path);
  EXPECT_FALSE(std::get<MigrateStep>(runs[0].steps[1].params).options.return_path);
  EXPECT_EQ(ErrorOf("steps:\n  - migrate: {postcopy: true, return_path: false}\n"),
            "2:44: steps[1].migrate.return_path: postcopy needs the return path (the destination "
            "asks the source for pages over it)");
}

TEST_F(ScenarioFileTest, MigrateExposesEveryOption) {
  auto runs = Load(R"(
steps:
  - hotplug: 1
  - migrate:
      transport: tcp
      times: 3
      max_bandwidth: 1000000
      downtime_limit_ms: 300
      postcopy: true
      cancel_after_ms: 50
      omit_cpu_devices: [cpu-s0c1t0]
      timeout: 2m
      expect_status: cancelled
)");
  const auto& m = std::get<MigrateStep>(runs[0].steps[1].params);
  EXPECT_EQ(m.options.transport, MigrationOptions::Transport::kTcp);
  EXPECT_EQ(m.times, 3);
  EXPECT_EQ(m.options.max_bandwidth, 1000000u);
  EXPECT_EQ(m.options.downtime_limit_ms, 300u);
  EXPECT_TRUE(m.options.postcopy);
  EXPECT_EQ(m.options.cancel_after, std::chrono::milliseconds(50));
  EXPECT_EQ(m.options.omit_cpu_devices, std::vector<std::string>{"cpu-s0c1t0"});
  EXPECT_EQ(m.options.timeout, std::chrono::minutes(2));
  EXPECT_EQ(m.expect_status, "cancelled");
  // The step's own deadline covers every migration.
  EXPECT_GE(runs[0].steps[1].timeout, 3 * std::chrono::minutes(2));
}

TEST_F(ScenarioFileTest, MigrateOmittingAnIdNeverPluggedIsRejected) {
  EXPECT_EQ(ErrorOf("steps:\n  - migrate: {omit_cpu_devices: [cpu-x]}\n"),
            "2:33: steps[1].migrate.omit_cpu_devices: omit_cpu_devices names 'cpu-x', but no CPU "
            "with that id is plugged here (none is hot-plugged at this point)");
}

TEST_F(ScenarioFileTest, ExpectErrorLetsAnImpossibleStepThrough) {
  // The same steps without expect_error are rejected (bad-scenarios covers that).
  EXPECT_NO_THROW(Load(R"(
machine: {smp: {cpus: 1, maxcpus: 2, sockets: 2, cores: 1, threads: 1}}
steps:
  - expect_error: {class: GenericError, step: {hotplug: {socket: 5, core: 0, thread: 0}}}
  - expect_error: {class: GenericError, step: {unplug: {socket: 0, core: 0, thread: 0}}}
  - expect_error: {class: GenericError, step: {offline: "0"}}
)"));
}

TEST_F(ScenarioFileTest, DryRunTracksSlotsAcrossPlugAndUnplug) {
  // 3 free slots: plug 2, unplug 1, plug 2 fits; one more does not.
  std::string base = R"(
machine: {smp: {cpus: 1, maxcpus: 4}}
steps:
  - hotplug: 2
  - unplug: 1
  - hotplug: 2
)";
  EXPECT_NO_THROW(Load(base));
  EXPECT_EQ(ErrorOf(base + "  - hotplug: 1\n"),
            "7:14: steps[4].hotplug.count: cannot plug 1 CPU: only 0 slots are free here "
            "(maxcpus 4, 1 boot CPU, 3 hot-plugged)");
  // Unplug by count takes the most recent first: cpu-s0c3t0 is gone, then back.
  EXPECT_NO_THROW(Load(base + "  - unplug: cpu-s0c3t0\n  - unplug: cpu-s0c1t0\n"));
}

TEST_F(ScenarioFileTest, ErrorsCarryTheFileNameAsGiven) {
  fs::path p = Write("named.yaml", "steps:\n  - hotplug: {count: 0}\n");
  try {
    LoadScenarioRuns(p);
    FAIL() << "expected a ScenarioError";
  } catch (const ScenarioError& e) {
    EXPECT_EQ(std::string(e.what()),
              p.string() + ":2:22: steps[1].hotplug.count: must be between 1 and 1024, got 0");
  }
}

TEST_F(ScenarioFileTest, ANameTooLongForADirectoryIsRefusedAtItsKey) {
  // Before: validate said ok, and the run failed at mkdir (ENAMETOOLONG).
  // (A 300000-byte one is now over the file size cap first.)
  std::string error = ErrorOf("name: " + std::string(200000, 'a') + "\nsteps: [check]\n");
  EXPECT_EQ(error.substr(0, 30), "1:7: name: scenario name \"aaaa");
  EXPECT_NE(error.find("\" is 200000 bytes long; at most 255 (NAME_MAX: it names the run's "
                       "artifacts directory)"),
            std::string::npos)
      << error.substr(0, 200);
  EXPECT_LT(error.size(), 300u);  // the message shows the start of the name, not all of it
}

TEST_F(ScenarioFileTest, AStemFallbackNameIsCheckedLikeAWrittenOne) {
  // "...yaml" has the stem "..": the run directory would be the artifacts root's parent.
  EXPECT_THROW(LoadScenarioRuns(Write("...yaml", "steps: [check]\n")), ScenarioError);
  EXPECT_THROW(LoadScenarioRuns(Write(".hidden.yaml", "steps: [check]\n")), ScenarioError);
  EXPECT_EQ(LoadScenarioRuns(Write("ok.v2.yaml", "steps: [check]\n")).at(0).scenario, "ok.v2");
}

TEST_F(ScenarioFileTest, AMatrixRunLabelTooLongForADirectoryIsRefused) {
  std::string values;
  for (int i = 0; i < 3; ++i) values += (i ? ", " : "") + std::string(100, char('a' + i));
  EXPECT_EQ(ErrorOf("matrix: {x: [" + values + "], y: [" + values + "], z: [" + values +
                    "]}\nsteps: [check]\n"),
            "1:1: the run label \"s[" + std::string(55, 'a') +
                "...\" is "
                "305 bytes long; at most 255 (NAME_MAX: it names the run's artifacts directory)");
}

TEST(ScenarioRunDirName, IsNeverDotOrDotDotAndFitsInADirectoryEntry) {
  // The loader refuses such labels; DirName holds on its own for runs built elsewhere.
  for (const char* label : {".", "..", ".hidden", ""}) {
    ScenarioRun run;
    run.label = label;
    std::string dir = run.DirName();
    EXPECT_FALSE(dir.empty()) << label;
    EXPECT_NE(dir[0], '.') << label;
  }
  ScenarioRun a, b;
  a.label = std::string(300, 'x') + "a";
  b.label = std::string(300, 'x') + "b";
  EXPECT_LE(a.DirName().size(), 255u);
  EXPECT_NE(a.DirName(), b.DirName());  // shortened, still one directory per run
  ScenarioRun plain;
  plain.label = "topology[s2c2t2]";
  EXPECT_EQ(plain.DirName(), "topology[s2c2t2]");
}

TEST_F(ScenarioFileTest, NestedRepeatsDryRunInBoundedWork) {
  // Five levels of 1000 iterations: the dry run used to simulate 290^5 steps
  // (validate never finished). A body that leaves the slots as it found them
  // needs no second iteration to prove anything.
  std::string steps = "[hotplug, check, {unplug: 1}]";
  for (int i = 0; i < 5; ++i) steps = "[{repeat: {times: 1000, steps: " + steps + "}}]";
  auto runs = Load("machine: {smp: {cpus: 1, maxcpus: 288}}\nsteps: " + steps + "\n");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(std::get<RepeatStep>(runs[0].steps[0].params).times, 1000);
}

TEST_F(ScenarioFileTest, ADryRunThatStillLeaksInALateIterationIsCaught) {
  // Stopping a repeat early must not hide a leak: here the body leaks one
  // slot per iteration, so the state never repeats until the slots run out.
  EXPECT_EQ(ErrorOf(R"(
machine: {smp: {cpus: 1, maxcpus: 64}}
steps:
  - repeat:
      times: 4
      steps:
        - repeat: {times: 1000, steps: [{hotplug: 1}, {unplug: 1}]}
        - hotplug: 20
)"),
            "8:20: steps[1].repeat.steps[2].hotplug.count: cannot plug 20 CPUs: only 3 slots are "
            "free here (maxcpus 64, 1 boot CPU, 60 hot-plugged) (in iteration 4 of the repeat at "
            "line 4)");
}

TEST_F(ScenarioFileTest, DerivedTimeoutsSaturateInsteadOfOverflowing) {
  // 100000 iterations of a 30-day step: 8000 years, past Clock::duration's
  // range; the sum used to wrap to a negative or arbitrary deadline.
  auto runs = Load(R"(
steps:
  - repeat:
      times: 100000
      steps:
        - check:
          timeout: 720h
  - repeat:
      duration: 720h
      steps: [{check: null, timeout: 720h}, {check: null, timeout: 720h}]
)");
  EXPECT_EQ(runs[0].steps[0].timeout, Clock::duration::max());
  EXPECT_EQ(runs[0].steps[1].timeout, 3 * std::chrono::hours(720));
}

TEST_F(ScenarioFileTest, AFileOverTheSizeCapIsRefusedBeforeParsing) {
  fs::path big = Write("big.yaml", "steps: [check]\n" + std::string(1024 * 1024, '#') + "\n");
  try {
    LoadScenarioRuns(big);
    FAIL() << "a file over 256 KiB loaded";
  } catch (const ScenarioError& e) {
    EXPECT_EQ(e.where().file, big.string());
    EXPECT_EQ(e.detail(),
              "the file is 1048592 bytes; a scenario may be at most 262144 (256 KiB), so it is "
              "not parsed");
  }
}

// Every file in bad-scenarios gets exactly the error its first line names.
class BadScenarioTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BadScenarioTest, GetsItsPreciseError) {
  fs::path file = fs::path(CPUHP_TEST_DATA_DIR) / "bad-scenarios" / GetParam();
  std::ifstream in(file);
  std::string first;
  std::getline(in, first);
  const std::string kPrefix = "# expect: ";
  ASSERT_EQ(first.rfind(kPrefix, 0), 0u) << file << ": first line must be \"# expect: ...\"";
  std::string expected = first.substr(kPrefix.size());
  try {
    LoadScenarioRuns(file);
    FAIL() << file << " loaded without error; expected " << expected;
  } catch (const ScenarioError& e) {
    EXPECT_EQ(e.where().file, file.lexically_normal().string());
    std::string got =
        std::to_string(e.where().line) + ":" + std::to_string(e.where().column) + ": " + e.detail();
    if (expected.size() > 3 && expected.compare(expected.size() - 3, 3, "...") == 0) {
      EXPECT_EQ(got.substr(0, expected.size() - 3), expected.substr(0, expected.size() - 3));
    } else {
      EXPECT_EQ(got, expected);
    }
    // what() is "file:line:col: message", as compilers print it.
    EXPECT_EQ(std::string(e.what()).rfind(e.where().ToString() + ": ", 0), 0u);
  }
}

std::vector<std::string> BadScenarioFiles() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(fs::path(CPUHP_TEST_DATA_DIR) / "bad-scenarios")) {
    if (e.path().extension() == ".yaml") names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

INSTANTIATE_TEST_SUITE_P(Files, BadScenarioTest, ::testing::ValuesIn(BadScenarioFiles()),
                         [](const auto& info) {
                           std::string n = info.param.substr(0, info.param.size() - 5);
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

TEST(BadScenarioSuite, HasAtLeastFifteenFiles) { EXPECT_GE(BadScenarioFiles().size(), 15u); }

TEST(ShippedScenarios, AllValidate) {
  auto files = CollectScenarioFiles({std::string(CPUHP_SOURCE_DIR) + "/scenarios"});
  EXPECT_GE(files.size(), 6u);
  bool smoke = false;
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    EXPECT_NO_THROW(LoadScenarioRuns(f));
    smoke = smoke || f.filename() == "smoke.yaml";
  }
  EXPECT_TRUE(smoke);
}

TEST(Duration, ParsesUnitsAndRejectsGarbage) {
  EXPECT_EQ(ParseDuration("90s"), std::chrono::seconds(90));
  EXPECT_EQ(ParseDuration("500ms"), std::chrono::milliseconds(500));
  EXPECT_EQ(ParseDuration("2m"), std::chrono::minutes(2));
  EXPECT_EQ(ParseDuration("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_EQ(ParseDuration("7"), std::chrono::seconds(7));
  EXPECT_FALSE(ParseDuration("soon"));
  EXPECT_FALSE(ParseDuration("5 parsecs"));
  EXPECT_FALSE(ParseDuration("-1s"));
  EXPECT_FALSE(ParseDuration(""));
}

TEST(Duration, HugeValuesSaturateInsteadOfWrapping) {
  // 3000000h used to read as about -292 years.
  EXPECT_EQ(ParseDuration("3000000h"), Clock::duration::max());
  EXPECT_EQ(ParseDuration("1e300"), std::nullopt);  // not the syntax
  EXPECT_EQ(ParseDuration("99999999999999999999999999s"), Clock::duration::max());
  EXPECT_EQ(SaturatingMultiply(std::chrono::hours(720), 100000), Clock::duration::max());
  EXPECT_EQ(SaturatingAdd(Clock::duration::max(), std::chrono::seconds(1)), Clock::duration::max());
  EXPECT_EQ(SaturatingMultiply(std::chrono::seconds(2), 3), std::chrono::seconds(6));
}

TEST(Deadline, SaturatesInsteadOfOverflowing) {
  // now() + max used to wrap to a time point in the past: a deadline that had
  // already expired instead of one that never does.
  for (Deadline d : {Deadline::After(Clock::duration::max()),
                     Deadline::After(std::chrono::hours(24 * 365 * 290)),
                     Deadline::AfterUnscaled(Clock::duration::max())}) {
    EXPECT_FALSE(d.Expired());
    EXPECT_TRUE(d.IsNever());
    EXPECT_EQ(d.PollTimeoutMs(), -1);
  }
  EXPECT_TRUE(Deadline::After(-std::chrono::seconds(5)).Expired());
  EXPECT_TRUE(Deadline::AfterUnscaled(Clock::duration::min()).Expired());
  EXPECT_FALSE(Deadline::After(std::chrono::seconds(60)).IsNever());
}

TEST(Filter, SubstringOrGlob) {
  EXPECT_TRUE(MatchesFilter("topology[s2c2t2]", "s2c2"));
  EXPECT_TRUE(MatchesFilter("topology[s2c2t2]", "topology*"));
  EXPECT_FALSE(MatchesFilter("smoke", "topology*"));
  EXPECT_FALSE(MatchesFilter("smoke", "plug"));
}

SmpTopology Smp(int cpus, int maxcpus, int sockets = 0, int dies = 0, int cores = 0,
                int threads = 0) {
  SmpTopology t;
  t.cpus = cpus;
  t.maxcpus = maxcpus;
  t.sockets = sockets;
  t.dies = dies;
  t.cores = cores;
  t.threads = threads;
  return t;
}

TEST(Topology, ResolvesAsQemuDoes) {
  std::string err;
  auto t = ResolveTopology(Smp(1, 4), &err);
  ASSERT_TRUE(t) << err;
  // QEMU 7.2 prefers cores over sockets.
  EXPECT_EQ(t->sockets, 1);
  EXPECT_EQ(t->cores, 4);
  EXPECT_EQ(SlotDeviceId(t->SlotProps(2)), "cpu-s0c2t0");
  auto smt = ResolveTopology(Smp(1, 8, 2, 0, 2, 2), &err);
  ASSERT_TRUE(smt);
  EXPECT_EQ(SlotDeviceId(smt->SlotProps(5)), "cpu-s1c0t1");
  EXPECT_EQ(smt->SlotIndex(smt->SlotProps(5)), 5);
  auto dies = ResolveTopology(Smp(1, 4, 1, 2, 2, 1), &err);
  ASSERT_TRUE(dies);
  EXPECT_EQ(SlotDeviceId(dies->SlotProps(3)), "cpu-s0d1c1t0");
  EXPECT_FALSE(ResolveTopology(Smp(1, 6, 4), &err));
  EXPECT_NE(err.find("maxcpus is 6"), std::string::npos) << err;
}

// The step kind table: every kind has exactly one row, its own word, and a
// default deadline; the parser accepts exactly those words.
TEST(StepKindTableTest, EveryKindHasOneRowAndItsWordReadsBack) {
  std::set<std::string> words;
  for (int k = 0; k <= static_cast<int>(kLastStepKind); ++k) {
    auto kind = static_cast<StepKind>(k);
    const StepKindInfo& info = StepKindInfoOf(kind);
    EXPECT_EQ(info.kind, kind);
    EXPECT_TRUE(words.insert(info.word).second) << "two kinds spelled " << info.word;
    EXPECT_EQ(StepKindFromWord(info.word), kind) << info.word;
    EXPECT_GT(info.default_timeout, Clock::duration::zero()) << info.word;
  }
  EXPECT_EQ(StepKinds().size(), words.size());
  EXPECT_EQ(StepKindFromWord("hot_plug"), std::nullopt);
}

// Each kind's parameter map takes exactly the keys its row lists: an
// unknown key is refused with that list, so the table is what the parser reads.
TEST_F(ScenarioFileTest, EveryKindsMapTakesTheKeysOfItsRow) {
  int kinds_with_maps = 0;
  for (const StepKindInfo& info : StepKinds()) {
    if (info.keys.empty()) continue;
    ++kinds_with_maps;
    std::string error = ErrorOf(std::string("steps:\n  - ") + info.word + ": {no_such_key: 1}\n");
    EXPECT_NE(error.find("unknown key 'no_such_key' in steps[1]." + std::string(info.word) +
                         "; allowed: " + Join(info.keys)),
              std::string::npos)
        << info.word << ": " << error;
  }
  EXPECT_EQ(kinds_with_maps, 13);
}

// The wrappers' refusals come from the rows' sends_command and can_fail.
TEST_F(ScenarioFileTest, WrappersRefuseWhatTheirRowsSay) {
  EXPECT_EQ(ErrorOf("steps:\n  - expect_error: {class: GenericError, step: {sleep: 1s}}\n"),
            "2:48: steps[1].expect_error.step: expect_error cannot wrap a sleep step");
  EXPECT_EQ(ErrorOf("steps:\n  - expect_failure: {error: any, step: {repeat: {times: 2, steps: "
                    "[check]}}}\n"),
            "2:41: steps[1].expect_failure.step: expect_failure cannot wrap a repeat step");
  for (const StepKindInfo& info : StepKinds()) {
    if (info.sends_command) {
      EXPECT_TRUE(info.can_fail) << info.word;
    }
  }
}


// Issue 13: reboot, fail_at and machine.numa.
TEST_F(ScenarioFileTest, RebootAndFailAtParse) {
  auto runs = Load(R"(
name: lifecycle
steps:
  - reboot
  - reboot: {via: system_reset}
  - fail_at: {cpu: 1, state: "sched:active", action: offline}
  - fail_at: {cpu: 2, state: 219}
)");
  ASSERT_EQ(runs.size(), 1u);
  const auto& steps = runs[0].steps;
  ASSERT_EQ(steps.size(), 4u);
  EXPECT_EQ(std::get<RebootStep>(steps[0].params).via, RebootVia::kGuest);
  EXPECT_EQ(steps[0].name, "reboot (guest)");
  EXPECT_EQ(std::get<RebootStep>(steps[1].params).via, RebootVia::kSystemReset);
  EXPECT_EQ(steps[1].timeout, kBootTimeout);
  const auto& f = std::get<FailAtStep>(steps[2].params);
  EXPECT_EQ(f.cpu, 1);
  EXPECT_EQ(f.state, "sched:active");
  EXPECT_EQ(f.online, false);
  EXPECT_EQ(steps[2].name, "fail_at cpu1 sched:active offline");
  EXPECT_EQ(std::get<FailAtStep>(steps[3].params).state, "219");
  EXPECT_EQ(std::get<FailAtStep>(steps[3].params).online, std::nullopt);
  // Only reboot needs a cold boot's machinery during the run.
  EXPECT_TRUE(StepKindInfoOf(StepKind::kReboot).needs_cold_boot);
  EXPECT_FALSE(StepKindInfoOf(StepKind::kFailAt).needs_cold_boot);
  std::string why;
  EXPECT_EQ(EffectiveBootMode(runs[0], BootMode::kSnapshot, &why), BootMode::kCold);
  EXPECT_THAT(why, ::testing::HasSubstr("reboot"));
  EXPECT_EQ(EffectiveBootMode(Load("steps: [check, {repeat: {times: 2, steps: [check]}}]\n")[0], BootMode::kSnapshot, &why), BootMode::kSnapshot);
  EXPECT_EQ(EffectiveBootMode(Load("steps: [{repeat: {times: 2, steps: [reboot]}}]\n")[0], BootMode::kSnapshot, &why), BootMode::kCold);
}

TEST_F(ScenarioFileTest, RebootAndFailAtRefuseBadParameters) {
  EXPECT_THAT(ErrorOf("steps:\n  - reboot: {via: power}\n"), ::testing::HasSubstr("power"));
  EXPECT_THAT(ErrorOf("steps:\n  - fail_at: {state: online}\n"), ::testing::HasSubstr("cpu"));
  EXPECT_THAT(ErrorOf("steps:\n  - fail_at: {cpu: 1}\n"), ::testing::HasSubstr("state"));
  EXPECT_THAT(ErrorOf("steps:\n  - fail_at: 3\n"), ::testing::HasSubstr("fail_at needs a map"));
}

TEST_F(ScenarioFileTest, NumaLayoutBecomesQemuArguments) {
  auto runs = Load(R"(
name: numa
machine:
  smp: {cpus: 1, maxcpus: 10, sockets: 2, cores: 5, threads: 1}
  memory: 513
  numa:
    nodes: 2
    cpus:
      - {node: 0, socket: 0}
      - {node: 1, socket: 1}
steps: [check]
)");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].machine.numa_nodes, 2);
  EXPECT_THAT(runs[0].machine.spec.extra_args,
              ::testing::ElementsAre("-object", "memory-backend-ram,id=numa-mem0,size=257M", "-numa",
                                     "node,nodeid=0,memdev=numa-mem0", "-object",
                                     "memory-backend-ram,id=numa-mem1,size=256M", "-numa",
                                     "node,nodeid=1,memdev=numa-mem1", "-numa",
                                     "cpu,node-id=0,socket-id=0", "-numa",
                                     "cpu,node-id=1,socket-id=1"));
  EXPECT_THAT(ErrorOf("machine:\n  numa: {nodes: 2, cpus: [{node: 2, socket: 0}]}\nsteps: [check]\n"),
              ::testing::HasSubstr("between 0 and 1"));
  EXPECT_THAT(ErrorOf("machine:\n  numa: {nodes: 2, cpus: [{node: 1}]}\nsteps: [check]\n"),
              ::testing::HasSubstr("needs socket, die, core or thread"));
  EXPECT_THAT(ErrorOf("machine:\n  numa: {cpus: []}\nsteps: [check]\n"),
              ::testing::HasSubstr("nodes"));
}

TEST_F(ScenarioFileTest, BootPlugsParseAndPlanFromTheirSeed) {
  auto runs = Load("machine:\n  smp: {cpus: 1, maxcpus: 9}\n  boot_plugs: {count: 5, paused: true, seed: 7}\nsteps: [check]\n");
  ASSERT_EQ(runs.size(), 1u);
  const BootPlugs& b = runs[0].machine.boot_plugs;
  EXPECT_EQ(b.count, 5);
  EXPECT_TRUE(b.paused);
  EXPECT_EQ(b.seed, 7u);
  std::string why;
  EXPECT_EQ(EffectiveBootMode(runs[0], BootMode::kSnapshot, &why), BootMode::kCold);
  EXPECT_THAT(why, ::testing::HasSubstr("boot_plugs"));
  BootPlugPlan plan = PlanBootPlugs(b, 7);
  EXPECT_EQ(plan.paused, 3);
  ASSERT_EQ(plan.at.size(), 2u);
  EXPECT_TRUE(std::is_sorted(plan.at.begin(), plan.at.end()));
  for (auto at : plan.at) EXPECT_LT(at, kBootPlugWindow);
  // The same seed replays the same times; another seed gives others.
  EXPECT_EQ(PlanBootPlugs(b, 7).at, plan.at);
  BootPlugs unpaused = b;
  unpaused.paused = false;
  EXPECT_NE(PlanBootPlugs(unpaused, 7).at, PlanBootPlugs(unpaused, 8).at);
  EXPECT_THAT(ErrorOf("machine:\n  smp: {cpus: 1, maxcpus: 3}\n  boot_plugs: {count: 3}\nsteps: [check]\n"),
              ::testing::HasSubstr("more than the 2 hot-pluggable CPUs"));
}

}  // namespace
}  // namespace cpuhp
