// The libvirt backend against real private libvirtds and real guests: the
// daemon fixture leaves nothing behind (stopped, or with cpuhp SIGKILLed),
// plug and unplug go through libvirt with QEMU's, the guest's and libvirt's
// views compared, a daemon is reached by URI, and the shipped libvirt
// scenarios pass. Each test skips, saying why, where a private libvirtd
// cannot run.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>

#include <csignal>
#include <fstream>
#include <map>
#include <set>

#include "check/checker.h"
#include "guest/cpu_snapshot.h"
#include "scenario/runner.h"
#include "scenario/scenario_loader.h"
#include "util/file.h"
#include "util/text.h"
#include "util/process.h"
#include "util/wait.h"
#include "vm/libvirt_daemon.h"
#include "vm/libvirt_machine.h"
#include "vm/migration.h"
#include "vm/vm_fixture.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using testing::KitSpec;
using testing::TestArtifactsDir;

// pid -> parent pid, for every process now.
std::map<pid_t, pid_t> ParentsNow() {
  std::map<pid_t, pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream stat(e.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses.
    size_t close = line.rfind(')');
    if (close == std::string::npos || close + 4 >= line.size()) continue;
    out[std::stoi(name)] = std::atoi(line.c_str() + close + 4);
  }
  return out;
}

// Every live descendant of `root` (root excluded), with a pidfd each so
// that a recycled pid is never taken for one of them.
std::map<pid_t, UniqueFd> Descendants(pid_t root) {
  auto parents = ParentsNow();
  std::set<pid_t> found{root};
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& [pid, ppid] : parents) {
      if (found.count(ppid) && found.insert(pid).second) grew = true;
    }
  }
  found.erase(root);
  std::map<pid_t, UniqueFd> out;
  for (pid_t p : found) {
    if (UniqueFd fd = OpenPidfd(p)) out.emplace(p, std::move(fd));
  }
  return out;
}

std::string Comm(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string s;
  std::getline(in, s);
  return s;
}

// The processes of `procs` still there at the deadline ("" when none).
std::string StillRunning(const std::map<pid_t, UniqueFd>& procs, const Deadline& deadline) {
  std::string left;
  for (const auto& [pid, fd] : procs) {
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, deadline.PollTimeoutMs()) == 0) left += std::to_string(pid) + " " + Comm(pid) + "; ";
  }
  return left;
}

bool HasComm(const std::map<pid_t, UniqueFd>& procs, std::string_view prefix) {
  for (const auto& [pid, fd] : procs) {
    if (Comm(pid).rfind(prefix, 0) == 0) return true;
  }
  return false;
}

class LibvirtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = LibvirtDaemonUnavailableReason(); !why.empty()) GTEST_SKIP() << why;
    if (std::string why = testing::TestAccelUnavailable(); !why.empty()) GTEST_SKIP() << why;
    fs::remove_all(TestArtifactsDir());
    fs::create_directories(TestArtifactsDir());
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(TestArtifactsDir());
  }
  MachineSpec LibvirtSpec(const std::string& name, SmpTopology smp) {
    MachineSpec spec = KitSpec(name, smp);
    spec.backend = "libvirt";
    return spec;
  }
};

TEST_F(LibvirtTest, DaemonAnswersAndStopsWithEverythingItStarted) {
  LibvirtDaemon daemon({.log_dir = TestArtifactsDir() / "libvirt"}, Deadline::After(kLibvirtdStartTimeout));
  LibvirtConnect conn = OpenLibvirt(daemon.uri());
  unsigned long version = 0;
  ASSERT_EQ(virConnectGetLibVersion(conn.get(), &version), 0);
  EXPECT_GE(version, 9000000u);
  // Its own state: the host's /run/libvirt is never created.
  EXPECT_FALSE(fs::exists("/run/libvirt/libvirtd.pid"));
  auto procs = Descendants(daemon.pid());
  EXPECT_TRUE(HasComm(procs, "libvirtd")) << "no libvirtd under unshare " << daemon.pid();
  conn.reset();
  daemon.Stop();
  EXPECT_EQ(StillRunning(procs, Deadline::After(seconds{10})), "");
}

// The model test of the backend: plug through libvirt, every view agrees;
// unplug through libvirt, and what libvirt says about it is recorded.
// The daemon is reached by URI, as a remote one would be.
TEST_F(LibvirtTest, PlugAndUnplugThroughLibvirtKeepTheThreeViewsInStep) {
  LibvirtDaemon daemon({.log_dir = TestArtifactsDir() / "libvirt"}, Deadline::After(kLibvirtdStartTimeout));
  MachineSpec spec = LibvirtSpec("vm0", {.cpus = 1, .maxcpus = 4});
  spec.libvirt_uri = daemon.uri();
  std::unique_ptr<Vm> vm = MakeVm(spec, TestArtifactsDir() / "vm0");
  vm->Launch(Deadline::After(kBootTimeout));
  auto& lv = dynamic_cast<LibvirtMachine&>(*vm);
  EXPECT_EQ(lv.uri(), daemon.uri());
  LibvirtView boot = lv.ReadLibvirtView();
  EXPECT_EQ(boot.live_count, 1);
  EXPECT_EQ(boot.maximum_count, 4);
  ASSERT_EQ(boot.vcpus.size(), 4u);
  // The explicit topology: the same slots -smp 1,maxcpus=4 gives the direct backend.
  auto slots = vm->Hotplug().Slots();
  ASSERT_EQ(slots.size(), 4u);
  for (const auto& s : slots) EXPECT_EQ(s.props.socket_id, 0) << s.props.ToDeviceArgs();

  auto free = vm->Hotplug().FreeSlots();
  vm->Hotplug().Plug(free.at(0), "cpu-c1", Deadline::After(kHotplugSettleTimeout));
  LibvirtView plugged = lv.ReadLibvirtView();
  EXPECT_TRUE(plugged.vcpus.at(1).enabled);
  EXPECT_EQ(plugged.live_count, 2);
  auto vcpus = vm->Agent().GetVcpus();
  ASSERT_EQ(vcpus.size(), 2u);
  vm->Agent().SetOnline(vcpus.back().logical_id, true);
  CheckResult after_plug = CheckUntilConsistent(*vm, {}, Deadline::After(kHotplugSettleTimeout));
  EXPECT_TRUE(after_plug.Passed()) << after_plug.Summary();
  EXPECT_EQ(after_plug.Find("libvirt-enabled-matches-slots")->note, "");

  auto result = vm->Hotplug().Unplug("cpu-c1", Deadline::After(kHotplugSettleTimeout));
  // QEMU freed the slot (WaitForUnplug checked it); what libvirt made of it:
  LibvirtView unplugged = lv.ReadLibvirtView();
  RecordProperty("libvirt_unplug_disagreement", result.backend_disagreement);
  std::cout << "libvirt unplug: " << (result.backend_disagreement.empty() ? "agreed" : result.backend_disagreement)
            << "; live XML vcpu 1 enabled=" << unplugged.vcpus.at(1).enabled
            << ", live count " << unplugged.live_count << "\n";
  CheckResult after_unplug = CheckMachine(*vm, {});
  // Whatever libvirt said, the libvirt invariants must say the same: a
  // timeout that left vcpu 1 enabled is a failing libvirt-enabled-matches-slots.
  const InvariantResult* enabled = after_unplug.Find("libvirt-enabled-matches-slots");
  ASSERT_NE(enabled, nullptr);
  EXPECT_EQ(enabled->verdict == Verdict::kFail, unplugged.vcpus.at(1).enabled) << after_unplug.Summary();
  if (!result.backend_disagreement.empty()) {
    EXPECT_THAT(result.backend_disagreement, HasSubstr("libvirt reported"));
  }
  vm->Shutdown();
  EXPECT_FALSE(vm->Running());
}

// Ping-pong between two daemons: the second hop goes back to the daemon the
// guest started on (A -> B -> A), postcopy over tcp on the way there, a
// plain unix:// stream on the way back; a vCPU plugged on A and one on B are
// there after both hops.
TEST_F(LibvirtTest, MigrationGoesBackToTheDaemonTheGuestCameFrom) {
  std::unique_ptr<Vm> vm = MakeVm(LibvirtSpec("vm0", {.cpus = 1, .maxcpus = 4}), TestArtifactsDir() / "vm0");
  vm->Launch(Deadline::After(kBootTimeout));
  LibvirtDaemon* a = dynamic_cast<LibvirtMachine&>(*vm).daemon();
  ASSERT_NE(a, nullptr);
  const std::string a_uri = a->uri();
  vm->Hotplug().Plug(vm->Hotplug().FreeSlots().at(0), "cpu-a", Deadline::After(kHotplugSettleTimeout));

  MigrationOptions there;
  there.transport = MigrationOptions::Transport::kTcp;
  there.postcopy = true;
  MigrationResult r1;
  vm = vm->MigrateTo(TestArtifactsDir() / "hop-1", there, &r1);
  ASSERT_NE(vm, nullptr);
  EXPECT_EQ(r1.status, "completed");
  EXPECT_EQ(r1.uri, "tcp://127.0.0.1");
  EXPECT_THAT(r1.statuses, ::testing::Contains("postcopy-active")) << Join(r1.statuses, ", ");
  auto& b = dynamic_cast<LibvirtMachine&>(*vm);
  ASSERT_NE(b.daemon(), nullptr);
  EXPECT_NE(b.uri(), a_uri);
  EXPECT_TRUE(a->Running()) << "the daemon the guest left must wait for it to come back";
  vm->Hotplug().Plug(vm->Hotplug().FreeSlots().at(0), "cpu-b", Deadline::After(kHotplugSettleTimeout));

  MigrationResult r2;
  vm = vm->MigrateTo(TestArtifactsDir() / "hop-2", {}, &r2);
  ASSERT_NE(vm, nullptr);
  EXPECT_EQ(r2.status, "completed");
  auto& back = dynamic_cast<LibvirtMachine&>(*vm);
  EXPECT_EQ(back.uri(), a_uri);
  EXPECT_EQ(back.daemon(), a);
  EXPECT_EQ(back.ReadLibvirtView().live_count, 3);
  CheckResult after = CheckUntilConsistent(*vm, {}, Deadline::After(kHotplugSettleTimeout));
  EXPECT_TRUE(after.Passed()) << after.Summary();
  vm->Shutdown();
}

// cpuhp SIGKILLed while its private libvirtd runs a guest: nothing of it
// is left, neither libvirtd nor QEMU.
TEST_F(LibvirtTest, SigkilledCpuhpLeavesNoLibvirtdAndNoQemu) {
  fs::path scenario = TestArtifactsDir() / "hold.yaml";
  {
    std::ofstream out(scenario);
    out << "name: hold\nmachine: {backend: libvirt, accel: tcg, smp: {cpus: 1, maxcpus: 2}}\n"
           "steps:\n  - sleep: 50s\n";
  }
  Process cli = Process::Spawn({.argv = {CPUHP_BINARY, "run", scenario.string(), "--artifacts",
                                         (TestArtifactsDir() / "runs").string()},
                                .output = TestArtifactsDir() / "cli.log"});
  std::map<pid_t, UniqueFd> procs;
  bool guest_up = WaitUntil(Deadline::After(kBootTimeout), milliseconds(200), [&] {
    procs = Descendants(cli.pid());
    return HasComm(procs, "qemu-system") && HasComm(procs, "libvirtd");
  });
  ASSERT_TRUE(guest_up) << ReadFileToString(TestArtifactsDir() / "cli.log");
  cli.SignalGroup(SIGKILL);
  // Only cpuhp itself: unshare must notice its parent's death on its own.
  ASSERT_TRUE(cli.Wait(Deadline::After(seconds{10})));
  EXPECT_EQ(StillRunning(procs, Deadline::After(seconds{20})), "");
}

// Every scenario in scenarios/libvirt passes through a private libvirtd.
class LibvirtScenarioTest : public LibvirtTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(LibvirtScenarioTest, Passes) {
  auto runs = LoadScenarioRuns(fs::path(CPUHP_SOURCE_DIR) / "scenarios" / "libvirt" / (GetParam() + ".yaml"));
  ASSERT_FALSE(runs.empty());
  RunOptions options;
  options.artifacts_root = TestArtifactsDir();
  options.accel_override = testing::TestAccel();
  for (const auto& run : runs) {
    SCOPED_TRACE(run.label);
    EXPECT_EQ(run.machine.spec.backend, "libvirt");
    RunResult r = RunScenario(run, options);
    EXPECT_EQ(r.outcome, RunOutcome::kPassed) << (r.failure ? r.failure->message : "") << "\nartifacts: "
                                              << r.artifacts_dir;
  }
}

std::vector<std::string> LibvirtScenarios() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(fs::path(CPUHP_SOURCE_DIR) / "scenarios" / "libvirt")) {
    if (e.path().extension() == ".yaml") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

INSTANTIATE_TEST_SUITE_P(Shipped, LibvirtScenarioTest, ::testing::ValuesIn(LibvirtScenarios()),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

}  // namespace
}  // namespace cpuhp
