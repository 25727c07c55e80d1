// The walking skeleton, end to end on a real guest: boot, plug a vCPU over
// QMP, see it in the guest, online it, unplug it, and make sure QEMU refuses
// what it must refuse without harming the guest.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "guest/cpu_snapshot.h"
#include "util/fd.h"
#include "util/wait.h"
#include "vm/cpu_hotplug.h"
#include "vm_fixture.h"

namespace cpuhp::testing {
namespace {

using json = nlohmann::json;

CpuSet ReadMask(AgentClient& agent, const std::string& name) {
  std::string path = std::string(kSysCpu) + "/" + name;
  return CpuSet::Parse(agent.ReadFile(path), path);
}

// Polls a guest mask until it equals `want`. The guest has no way to notify
// the host of a mask change, so this is a bounded poll, not an event wait.
CpuSet WaitForMask(AgentClient& agent, const std::string& name, const CpuSet& want,
                   const Deadline& deadline) {
  CpuSet seen;
  do {
    seen = ReadMask(agent, name);
    if (seen == want) return seen;
  } while (!deadline.Expired());
  return seen;
}

int OnlineStateNumber(const std::vector<HotplugState>& states) {
  for (const auto& s : states) {
    if (s.name == "online") return s.number;
  }
  ADD_FAILURE() << "no `online` entry in hotplug/states";
  return -1;
}

std::optional<HotpluggableCpu> FindSlot(const std::vector<HotpluggableCpu>& slots, int socket) {
  for (const auto& s : slots) {
    if (s.props.socket_id == socket) return s;
  }
  return std::nullopt;
}

// QEMU 7.2 sends DEVICE_DELETED from device_finalize(). For a hot-unplugged
// x86 CPU under TCG the CPU object itself is never finalized here (its own
// event never came in 120 s, onlined or not), but its `lapic` child is: that
// event, under the CPU's QOM path, is what QEMU really emits on eject.
void ExpectDeviceDeletedUnder(QmpClient& qmp, const std::string& qom_path) {
  auto ev = qmp.TryWaitForEvent(
      "DEVICE_DELETED",
      [&](const json& e) { return e["data"].value("path", "").rfind(qom_path, 0) == 0; },
      Deadline::After(std::chrono::seconds(10)));
  EXPECT_TRUE(ev.has_value()) << "no DEVICE_DELETED under " << qom_path;
}

class HotplugE2eTest : public VmTest {};

// The full sequence of issue 2. `sockets=4` puts the four slots in sockets:
// without it QEMU 7.2 puts them in cores of socket 0 and refuses socket-id=1.
TEST_F(HotplugE2eTest, PlugOnlineUnplugOneCpuInSocketOne) {
  Machine& vm = Boot(KitSpec("e2e", {.cpus = 1, .maxcpus = 4, .sockets = 4, .cores = 1, .threads = 1}));
  CpuHotplug hotplug(vm.Qmp());
  AgentClient& agent = vm.Agent();

  auto slots = hotplug.Slots();
  ASSERT_EQ(slots.size(), 4u);
  EXPECT_EQ(std::count_if(slots.begin(), slots.end(), [](auto& s) { return s.plugged(); }), 1);
  auto boot_states = ParseHotplugStates(agent.ReadFile(std::string(kSysCpu) + "/hotplug/states"));
  EXPECT_EQ(ReadMask(agent, "present"), CpuSet{0});
  EXPECT_EQ(ReadMask(agent, "possible"), CpuSet::Range(0, 3));

  auto slot = FindSlot(slots, 1);
  ASSERT_TRUE(slot) << "no slot with socket-id=1";
  ASSERT_FALSE(slot->plugged());
  hotplug.Plug(*slot, "cpu-s1", Deadline::After(kHotplugSettleTimeout));  // waits for ACPI_DEVICE_OST

  EXPECT_EQ(WaitForMask(agent, "present", {0, 1}, Deadline::After(kHotplugSettleTimeout)),
            (CpuSet{0, 1}));
  // No udev in the guest kit: a hot-added CPU stays offline until we online it.
  EXPECT_EQ(ReadMask(agent, "online"), CpuSet{0});
  EXPECT_EQ(agent.ReadFile(std::string(kSysCpu) + "/cpu1/online"), "0\n");

  agent.SetOnline(1, true);
  EXPECT_EQ(ReadMask(agent, "online"), (CpuSet{0, 1}));
  EXPECT_EQ(agent.ReadFile(std::string(kSysCpu) + "/cpu1/online"), "1\n");
  auto states = ParseHotplugStates(agent.ReadFile(std::string(kSysCpu) + "/hotplug/states"));
  EXPECT_EQ(states, boot_states) << "hotplug/states changed across a hotplug";
  // Linux 6.1 adds cpuN/hotplug/ only to CPUs registered at boot
  // (cpuhp_sysfs_init() is a one-shot initcall), so a CPU hot-added later has
  // no hotplug/state; where a kernel does create it, it must say `online`.
  if (auto state = agent.TryReadFile(std::string(kSysCpu) + "/cpu1/hotplug/state")) {
    EXPECT_EQ(*state, std::to_string(OnlineStateNumber(states)) + "\n");
  }
  // QEMU's side agrees: the slot is plugged under the id we gave.
  auto plugged = FindSlot(hotplug.Slots(), 1);
  ASSERT_TRUE(plugged);
  EXPECT_EQ(PluggedDeviceId(*plugged), "cpu-s1");
  EXPECT_EQ(QueryCpusFast(vm.Qmp()).size(), 2u);

  // Waits for the guest's eject _OST and the freed slot (see CpuHotplug::Unplug).
  auto unplugged = hotplug.Unplug("cpu-s1", Deadline::After(kHotplugSettleTimeout));
  EXPECT_EQ(unplugged.acpi_slot, "1");
  ExpectDeviceDeletedUnder(vm.Qmp(), "/machine/peripheral/cpu-s1");
  EXPECT_FALSE(FindSlot(hotplug.Slots(), 1)->plugged());
  EXPECT_EQ(WaitForMask(agent, "present", {0}, Deadline::After(kHotplugSettleTimeout)), CpuSet{0});
  EXPECT_EQ(ReadMask(agent, "online"), CpuSet{0});
  EXPECT_EQ(agent.TryReadFile(std::string(kSysCpu) + "/cpu1/online"), std::nullopt)
      << "cpu1's sysfs directory should be gone after the eject";
  EXPECT_EQ(QueryCpusFast(vm.Qmp()).size(), 1u);
}

// QEMU must refuse these, and refusing must not disturb the guest.
TEST_F(HotplugE2eTest, InvalidPlugAndUnplugFailWithQmpErrorsAndLeaveTheGuestAlone) {
  Machine& vm = Boot(KitSpec("refuse", {.cpus = 1, .maxcpus = 4, .sockets = 4, .cores = 1, .threads = 1}));
  CpuHotplug hotplug(vm.Qmp());
  auto slots = hotplug.Slots();
  auto boot_slot = std::find_if(slots.begin(), slots.end(), [](auto& s) { return s.plugged(); });
  ASSERT_NE(boot_slot, slots.end());
  const Deadline deadline = Deadline::After(kQmpTimeout);

  // The boot CPU has no id: device_del takes its QOM path.
  try {
    vm.Qmp().Execute("device_del", {{"id", *boot_slot->qom_path}}, deadline);
    FAIL() << "device_del of the boot CPU succeeded";
  } catch (const QmpError& e) {
    EXPECT_EQ(e.error_class(), "GenericError");
    EXPECT_NE(e.desc().find("Boot CPU is unpluggable"), std::string::npos) << e.desc();
  }

  // An occupied slot: the boot CPU's.
  try {
    hotplug.DeviceAdd(boot_slot->type, "cpu-dup", boot_slot->props, deadline);
    FAIL() << "device_add into an occupied slot succeeded";
  } catch (const QmpError& e) {
    EXPECT_EQ(e.error_class(), "GenericError");
    EXPECT_NE(e.desc().find("exists"), std::string::npos) << e.desc();
  }

  // A slot that does not exist: socket 7 of 4.
  CpuProps bogus = boot_slot->props;
  bogus.socket_id = 7;
  try {
    hotplug.DeviceAdd(boot_slot->type, "cpu-bogus", bogus, deadline);
    FAIL() << "device_add into a non-existent slot succeeded";
  } catch (const QmpError& e) {
    EXPECT_EQ(e.error_class(), "GenericError");
    EXPECT_NE(e.desc().find("socket-id"), std::string::npos) << e.desc();
  }

  // device_del of an id nobody has.
  try {
    vm.Qmp().Execute("device_del", {{"id", "no-such-cpu"}}, deadline);
    FAIL() << "device_del of a missing device succeeded";
  } catch (const QmpError& e) {
    EXPECT_EQ(e.error_class(), "DeviceNotFound");
  }

  // The guest is unharmed: the agent answers and the masks are as booted.
  vm.Agent().Ping();
  EXPECT_EQ(ReadMask(vm.Agent(), "present"), CpuSet{0});
  EXPECT_EQ(ReadMask(vm.Agent(), "online"), CpuSet{0});
  EXPECT_EQ(QueryCpusFast(vm.Qmp()).size(), 1u);
  EXPECT_TRUE(vm.Running());
}

// A CPU given with -device at start (as a migration destination gets them) is
// registered at boot, so it has cpuN/hotplug/: its state must follow the
// guest's offline/online through the state machine, and it ejects like a
// hot-added one.
TEST_F(HotplugE2eTest, ColdPluggedCpuDeviceFollowsTheHotplugStateMachine) {
  MachineSpec spec = KitSpec("coldplug", {.cpus = 1, .maxcpus = 4, .sockets = 4, .cores = 1, .threads = 1});
  spec.cpu_devices.push_back({"qemu64-x86_64-cpu", "cpu-s1", {.node_id = {}, .socket_id = 1, .die_id = {}, .cluster_id = {}, .core_id = 0, .thread_id = 0}});
  Machine& vm = Boot(spec);
  AgentClient& agent = vm.Agent();
  const std::string cpu1 = std::string(kSysCpu) + "/cpu1/";
  auto states = ParseHotplugStates(agent.ReadFile(std::string(kSysCpu) + "/hotplug/states"));
  const int online = OnlineStateNumber(states);

  EXPECT_EQ(ReadMask(agent, "online"), (CpuSet{0, 1}));
  EXPECT_EQ(agent.ReadFile(cpu1 + "hotplug/state"), std::to_string(online) + "\n");
  EXPECT_EQ(agent.ReadFile(cpu1 + "hotplug/target"), std::to_string(online) + "\n");

  agent.SetOnline(1, false);
  EXPECT_EQ(ReadMask(agent, "online"), CpuSet{0});
  EXPECT_EQ(ReadMask(agent, "offline"), CpuSet::Range(1, 3));
  EXPECT_EQ(agent.ReadFile(cpu1 + "hotplug/state"), "0\n") << "offline is state 0";
  EXPECT_EQ(agent.ReadFile(cpu1 + "hotplug/target"), "0\n");

  agent.SetOnline(1, true);
  EXPECT_EQ(agent.ReadFile(cpu1 + "hotplug/state"), std::to_string(online) + "\n");

  CpuHotplug(vm.Qmp()).Unplug("cpu-s1", Deadline::After(kHotplugSettleTimeout));
  ExpectDeviceDeletedUnder(vm.Qmp(), "/machine/peripheral/cpu-s1");
  EXPECT_EQ(WaitForMask(agent, "present", {0}, Deadline::After(kHotplugSettleTimeout)), CpuSet{0});
  EXPECT_EQ(ReadMask(agent, "online"), CpuSet{0});
}

// Without an explicit topology QEMU 7.2 puts hot-pluggable slots in cores; the
// framework must take the slot (and driver) from query-hotpluggable-cpus.
TEST_F(HotplugE2eTest, DefaultTopologyPlugsIntoTheSlotQemuOffers) {
  Machine& vm = Boot(KitSpec("default-topology", {.cpus = 1, .maxcpus = 4}));
  CpuHotplug hotplug(vm.Qmp());
  auto free = hotplug.FreeSlots();
  ASSERT_EQ(free.size(), 3u);
  hotplug.Plug(free.front(), "cpu-a", Deadline::After(kHotplugSettleTimeout));
  EXPECT_EQ(WaitForMask(vm.Agent(), "present", {0, 1}, Deadline::After(kHotplugSettleTimeout)),
            (CpuSet{0, 1}));
  vm.Agent().SetOnline(1, true);
  EXPECT_EQ(ReadMask(vm.Agent(), "online"), (CpuSet{0, 1}));
  auto second = free.at(1);
  hotplug.Plug(second, "cpu-b", Deadline::After(kHotplugSettleTimeout));
  // A CPU that never went online ejects the same way.
  hotplug.Unplug("cpu-b", Deadline::After(kHotplugSettleTimeout));
  ExpectDeviceDeletedUnder(vm.Qmp(), "/machine/peripheral/cpu-b");
  EXPECT_EQ(hotplug.FreeSlots().size(), 2u);
}

// Direct children of `parent` whose command name is `comm`, from /proc.
std::vector<pid_t> ChildrenNamed(pid_t parent, const std::string& comm) {
  std::vector<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    size_t open = line.find('('), close = line.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::string command = line.substr(open + 1, close - open - 1);
    std::istringstream rest(line.substr(close + 2));
    char state;
    pid_t ppid;
    rest >> state >> ppid;
    if (ppid == parent && command.rfind(comm, 0) == 0) out.push_back(std::stoi(name));
  }
  return out;
}

// A zombie has died; it only waits for whoever adopted it to reap it.
bool AliveAndNotZombie(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  size_t close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

// QEMU that rejects its command line dies during startup: Launch() throws a
// LaunchError whose fields say how it ended, what was run and what QEMU said,
// with nothing left running.
TEST_F(HotplugE2eTest, AQemuThatCannotStartIsALaunchErrorWithItsExitCommandAndLog) {
  MachineSpec spec = KitSpec("launch-fails", {.cpus = 1, .maxcpus = 2});
  spec.extra_args = {"-device", "no-such-device-cpuhp"};
  Machine vm(spec, TestArtifactsDir() / spec.name);
  try {
    vm.Launch();
    FAIL() << "expected LaunchError";
  } catch (const LaunchError& e) {
    const LaunchDetails& d = e.details();
    ASSERT_TRUE(d.exit_status) << e.what();
    EXPECT_FALSE(d.exit_status->Success());
    ASSERT_FALSE(d.command.empty());
    EXPECT_EQ(d.command.front(), spec.qemu_binary);
    EXPECT_EQ(d.command, vm.command_line());
    EXPECT_NE(d.qemu_log_tail.find("no-such-device-cpuhp"), std::string::npos) << d.qemu_log_tail;
    EXPECT_NE(std::string(e.what()).find(d.qemu_log_tail), std::string::npos) << e.what();
  }
  EXPECT_FALSE(vm.Running());
}

// A guest that resets itself ends QEMU (-no-reboot): the QMP command that
// then fails says so, from QEMU's SHUTDOWN event, instead of only "peer
// closed the connection".
TEST_F(HotplugE2eTest, AGuestThatResetsItselfIsNamedInTheQmpError) {
  Machine& vm = Boot(KitSpec("resets", {.cpus = 1, .maxcpus = 2}));
  // The pause lets the agent's reply out before the reset.
  vm.Agent().Execute("guest-exec", {{"path", "/bin/sh"}, {"arg", {"-c", "sleep 0.3; echo b >/proc/sysrq-trigger"}}});
  std::string error;
  bool failed = WaitUntil(Deadline::After(std::chrono::seconds(30)), std::chrono::milliseconds(100), [&] {
    try {
      vm.Qmp().Execute("query-status");
      return false;
    } catch (const ConnectionError& e) {
      error = e.what();
      return true;
    }
  });
  ASSERT_TRUE(failed) << "QEMU still answers QMP 30 s after the guest's reset";
  EXPECT_NE(error.find("SHUTDOWN, reason \"guest-reset\": the guest reset itself"), std::string::npos) << error;
}

// A guest that resets while it boots ends QEMU before its agent ever
// answers; the agent's socket usually sees the end first. The LaunchError
// still names the cause from QEMU's SHUTDOWN event (boot-plugs.yaml's known
// bug matches on it): here the kernel finds no init, panics, and panic=-1
// resets the machine.
TEST_F(HotplugE2eTest, AGuestThatResetsWhileBootingIsNamedInTheLaunchError) {
  MachineSpec spec = KitSpec("resets-booting", {.cpus = 1, .maxcpus = 2});
  spec.append += " rdinit=/cpuhp-no-such-init";
  Machine vm(spec, TestArtifactsDir() / spec.name);
  try {
    vm.Launch();
    FAIL() << "a guest without an init booted";
  } catch (const LaunchError& e) {
    std::string error = e.what();
    EXPECT_NE(error.find("SHUTDOWN, reason \"guest-reset\": the guest reset itself"), std::string::npos) << error;
    EXPECT_NE(e.details().serial_tail.find("Kernel panic"), std::string::npos) << e.details().serial_tail;
  }
  EXPECT_FALSE(vm.Running());
}

// If cpuhp itself is SIGKILLed mid-boot (CI timeout, OOM killer), its QEMU must die too.
TEST(HotplugE2eOrphanTest, KillingTheFrameworkMidBootLeavesNoQemu) {
  MachineSpec spec = KitSpec("orphan", {.cpus = 1, .maxcpus = 2});
  auto dir = TestArtifactsDir();
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    Machine vm(spec, dir);
    try {
      vm.Launch();
    } catch (...) {
    }
    ::pause();
    ::_exit(0);
  }
  std::vector<pid_t> qemu;
  Deadline deadline = Deadline::After(std::chrono::seconds(30));
  // No event tells us another process forked: poll /proc, bounded.
  while (qemu.empty() && !deadline.Expired()) {
    qemu = ChildrenNamed(child, "qemu-system");
    if (qemu.empty()) ::usleep(20000);
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_EQ(qemu.size(), 1u) << "the framework never started QEMU";
  // PR_SET_PDEATHSIG delivers SIGKILL to QEMU; it is then reaped by init.
  Deadline gone = Deadline::After(std::chrono::seconds(10));
  while (AliveAndNotZombie(qemu[0]) && !gone.Expired()) ::usleep(20000);
  EXPECT_FALSE(AliveAndNotZombie(qemu[0])) << "QEMU pid " << qemu[0] << " outlived the framework";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cpuhp::testing
