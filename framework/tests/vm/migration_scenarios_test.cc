// Live migration with hot-plugged vCPUs, end to end on real QEMU (issue 5):
// the hotplug state survives the hop, QEMU's and the guest's views are the
// same on both sides, and hotplug keeps working on the destination.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "migration_fixture.h"
#include "scenario/guest_load.h"

namespace cpuhp::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

CpuSet ReadMask(Machine& vm, const std::string& name) {
  std::string path = std::string(kSysCpu) + "/" + name;
  return CpuSet::Parse(vm.Agent().ReadFile(path), path);
}


// The story of the issue: plug, online, migrate; the destination was started
// with the plugged CPU's -device, sees what the source saw, and hotplug works there.
TEST_F(MigrationTest, PluggedAndOnlinedCpuSurvivesMigration) {
  Machine& src = BootGuest(KitSpec("src", {.cpus = 1, .maxcpus = 4}));
  HotpluggableCpu slot = Plug(src, "cpu1");
  OnlineAll(src, 2);
  ExpectConsistent(src);
  GuestSnapshot before = ReadGuestSnapshot(src.Agent());

  MigrationResult r;
  Machine& dst = MigrateTo(src, "dst", {}, &r);

  EXPECT_EQ(r.status, "completed");
  EXPECT_THAT(r.statuses, ElementsAre("setup", "active", "completed"));
  ASSERT_TRUE(r.total_time_ms && r.downtime_ms) << r.query_migrate.dump();
  EXPECT_GT(*r.total_time_ms, 0);
  EXPECT_EQ(r.uri.rfind("unix:/tmp/cpuhp-mig-", 0), 0u) << r.uri;
  EXPECT_FALSE(std::filesystem::exists(r.uri.substr(5))) << "the migration socket was left behind";
  // The destination's command line carries the plugged CPU as a -device.
  std::string device = slot.type + ",id=cpu1," + slot.props.ToDeviceArgs();
  EXPECT_NE(std::find(r.destination_args.begin(), r.destination_args.end(), device),
            r.destination_args.end()) << ShellQuote(r.destination_args);
  // The source has quit; the destination runs the guest.
  EXPECT_FALSE(src.Running());
  EXPECT_EQ(dst.Qmp().Execute("query-status").value("status", ""), "running");
  dst.Agent().Ping();

  // QEMU's view, compared here as well as inside Migrate().
  ASSERT_TRUE(r.source_view && r.destination_view);
  EXPECT_THAT(CompareHostViews(*r.source_view, *r.destination_view), IsEmpty());
  EXPECT_THAT(CompareHostViews(*r.source_view, ReadHostView(dst.Qmp())), IsEmpty());
  auto plugged = PluggedDeviceId(*std::find_if(
      r.destination_view->slots.begin(), r.destination_view->slots.end(),
      [&](const HotpluggableCpu& s) { return s.props == slot.props; }));
  EXPECT_EQ(plugged, "cpu1");
  // The guest's view: masks, per-CPU online/topology/hotplug state, hotplug/states.
  GuestSnapshot after = ReadGuestSnapshot(dst.Agent());
  EXPECT_THAT(CompareGuestSnapshots(before, after), IsEmpty());
  EXPECT_EQ(after.online, (CpuSet{0, 1}));
  EXPECT_EQ(after.states, baseline_states_);
  ExpectConsistent(dst);

  // Hotplug and unplug right after the hop, on the destination.
  PlugOnlineUnplug(dst, "cpu2");
}

// TCP transport, and a plugged CPU the guest never onlined: it must stay
// present and offline, not come back online or vanish.
TEST_F(MigrationTest, PluggedCpuLeftOfflineStaysOfflineOverTcp) {
  Machine& src = BootGuest(KitSpec("src", {.cpus = 1, .maxcpus = 4}));
  Plug(src, "cpu1");
  EXPECT_EQ(ReadMask(src, "present"), (CpuSet{0, 1}));
  EXPECT_EQ(ReadMask(src, "online"), CpuSet{0});

  MigrationResult r;
  MigrationOptions options;
  options.transport = MigrationOptions::Transport::kTcp;
  Machine& dst = MigrateTo(src, "dst", options, &r);

  EXPECT_EQ(r.uri.rfind("tcp:127.0.0.1:", 0), 0u) << r.uri;
  EXPECT_THAT(r.differences, IsEmpty());
  EXPECT_EQ(ReadMask(dst, "present"), (CpuSet{0, 1}));
  EXPECT_EQ(ReadMask(dst, "online"), CpuSet{0});
  EXPECT_EQ(dst.Agent().ReadFile(std::string(kSysCpu) + "/cpu1/online"), "0\n");
  ExpectConsistent(dst);
  // The CPU that crossed the hop offline can still be onlined there.
  OnlineAll(dst, 2);
  EXPECT_EQ(ReadMask(dst, "online"), (CpuSet{0, 1}));
  ExpectConsistent(dst);
}

// A hole in the middle of the slots: cores 1 and 3 plugged, core 2 free. The
// destination must get -device for cores 1 and 3 only, leaving the hole
// where it was. (The hole left by an unplug: HoleLeftByAnUnplug below.)
//
// Nine slots, not four: with <= 8 possible CPUs the guest's APIC runs in
// flat logical mode, where QEMU 7.2's TCG now and then loses the IPIs of the
// stop_machine rendezvous when a CPU above the hole comes online (the guest
// hangs in multi_cpu_stop; one run in three here). With 9 the guest uses
// physical flat mode and onlining takes 0.1 s instead of 2 s. See
// docs/known-issues.md.
TEST_F(MigrationTest, HoleInTheMiddleOfTheSlotsSurvivesMigration) {
  Machine& src = BootGuest(KitSpec("src", {.cpus = 1, .maxcpus = 9}));
  PlugAt(src, CpuProps::At(0, 1, 0), "cpu1");
  PlugAt(src, CpuProps::At(0, 3, 0), "cpu3");
  OnlineAll(src, 3);
  ExpectConsistent(src);

  MigrationResult r;
  Machine& dst = MigrateTo(src, "dst", {}, &r);

  EXPECT_THAT(r.differences, IsEmpty());
  EXPECT_THAT(PluggedDeviceIds(*r.destination_view), ElementsAre("cpu1", "cpu3"));
  std::vector<int> dst_free_cores;
  for (const auto& slot : CpuHotplug(dst.Qmp()).FreeSlots()) {
    dst_free_cores.push_back(slot.props.core_id.value_or(-1));
  }
  std::sort(dst_free_cores.begin(), dst_free_cores.end());
  EXPECT_THAT(dst_free_cores, ElementsAre(2, 4, 5, 6, 7, 8));
  EXPECT_EQ(ReadMask(dst, "online"), CpuSet::Range(0, 2));
  ExpectConsistent(dst);
  // The hole can be filled on the destination.
  PlugOnlineUnplug(dst, "cpu2");
}

// True where QEMU is known to break migration after a vCPU hot-unplug: QEMU
// 7.2 under TCG (see HoleLeftByAnUnplug...).
bool MigrationAfterUnplugIsBroken(Machine& vm) {
  nlohmann::json version = vm.Qmp().Execute("query-version");
  return vm.accel() == Accel::kTcg && version["qemu"].value("major", 0) == 7;
}

// Three CPUs plugged and onlined, the middle one unplugged: the destination
// must get -device for cores 1 and 3 only.
//
// A QEMU bug this test found, pinned so that a fixed QEMU shows up: under
// TCG, QEMU 7.2 cannot start a migration after the hot-unplug of a vCPU. When
// the unplugged vCPU had run guest code the source aborts in
// qemu_savevm_state_setup -> memory_region_transaction_commit (glibc:
// "free(): invalid pointer" / "double free or corruption"), every time here;
// when it never ran, the migration now and then hangs in "setup". Where QEMU
// is not known to be broken (KVM, another version) the migration must work.
TEST_F(MigrationTest, HoleLeftByAnUnplugSurvivesMigration) {
  Machine& src = BootGuest(KitSpec("src", {.cpus = 1, .maxcpus = 4}));
  Plug(src, "cpu1");
  Plug(src, "cpu2");
  Plug(src, "cpu3");
  OnlineAll(src, 4);
  CpuHotplug(src.Qmp()).Unplug("cpu2", Deadline::After(kHotplugSettleTimeout));
  ExpectConsistent(src);
  auto free = CpuHotplug(src.Qmp()).FreeSlots();
  ASSERT_EQ(free.size(), 1u);
  EXPECT_EQ(free[0].props.core_id, 2);

  MigrationResult r;
  if (MigrationAfterUnplugIsBroken(src)) {
    RecordProperty("known_qemu_bug", "QEMU 7.2 TCG: migration after a vCPU unplug aborts the source");
    MigrationOptions options;
    options.timeout = std::chrono::seconds(60);  // bounds the hang, should it hang
    try {
      Migrate(src, DestinationDir("dst"), options, &r);
      ADD_FAILURE() << "QEMU 7.2 under TCG migrated after a vCPU unplug: the known bug did not "
                       "show; if QEMU was fixed, update MigrationAfterUnplugIsBroken()";
    } catch (const MigrationError& e) {
      std::string message = e.what();
      bool aborted = message.find("the source QEMU died mid-migration") != std::string::npos &&
                     message.find("killed by signal 6") != std::string::npos;
      bool hung = message.find("did not complete within") != std::string::npos &&
                  message.find("last status setup") != std::string::npos;
      EXPECT_TRUE(aborted || hung) << message;
    }
    EXPECT_THAT(QemuProcessesMentioning(DestinationDir("dst").string()), IsEmpty());
    return;
  }
  Machine& dst = MigrateTo(src, "dst", {}, &r);
  EXPECT_THAT(r.differences, IsEmpty());
  EXPECT_THAT(PluggedDeviceIds(*r.destination_view), ElementsAre("cpu1", "cpu3"));
  ExpectConsistent(dst);
  PlugOnlineUnplug(dst, "cpu2-again");
}

// Ping-pong: three hops, a CPU plugged on each side before it migrates on;
// each destination is derived from the state at that moment.
TEST_F(MigrationTest, PingPongThreeTimesWithAPlugOnEachSide) {
  Machine* vm = &BootGuest(KitSpec("hop0", {.cpus = 1, .maxcpus = 5}));
  for (int hop = 1; hop <= 3; ++hop) {
    SCOPED_TRACE("hop " + std::to_string(hop));
    Plug(*vm, "cpu-hop" + std::to_string(hop));
    OnlineAll(*vm, hop + 1);
    ExpectConsistent(*vm);
    MigrationResult r;
    vm = &MigrateTo(*vm, "hop" + std::to_string(hop), {}, &r);
    EXPECT_THAT(r.differences, IsEmpty());
    // virtio-serial, its port, and one per hot-plugged CPU.
    EXPECT_EQ(std::count(r.destination_args.begin(), r.destination_args.end(), "-device"), 2 + hop)
        << ShellQuote(r.destination_args);
    EXPECT_EQ(ReadMask(*vm, "online"), CpuSet::Range(0, hop));
    ExpectConsistent(*vm);
  }
  PlugOnlineUnplug(*vm, "cpu-last");
}

// A busy guest keeps dirtying memory; with a downtime limit it still converges.
TEST_F(MigrationTest, MigratesUnderGuestCpuLoad) {
  Machine& src = BootGuest(KitSpec("src", {.cpus = 1, .maxcpus = 4}));
  Plug(src, "cpu1");
  OnlineAll(src, 2);
  GuestLoad load = GuestLoad::Start(src.Agent(), 2, Deadline::After(kAgentTimeout));

  MigrationResult r;
  MigrationOptions options;
  options.downtime_limit_ms = 1000;
  Machine& dst = MigrateTo(src, "dst", options, &r);

  EXPECT_EQ(r.status, "completed");
  EXPECT_THAT(r.differences, IsEmpty());
  // The busy loops crossed over and are still running on the destination.
  for (int64_t pid : load.pids()) {
    EXPECT_FALSE(dst.Agent().Execute("guest-exec-status", {{"pid", pid}}).value("exited", true))
        << "load process " << pid;
  }
  load.Stop(dst.Agent(), Deadline::After(kAgentTimeout));
  ExpectConsistent(dst);
  PlugOnlineUnplug(dst, "cpu2");
}

// migrate_cancel midway: the source keeps running unchanged, and can still
// migrate afterwards (with QEMU's default bandwidth again, not the cancelled
// migration's crawl).
TEST_F(MigrationTest, CancelledMigrationLeavesTheSourceRunningAndConsistent) {
  Machine& src = BootGuest(KitSpec("src", {.cpus = 1, .maxcpus = 4}));
  Plug(src, "cpu1");
  OnlineAll(src, 2);

  MigrationResult r;
  MigrationOptions slow;
  slow.max_bandwidth = 2 << 20;  // ~80 MiB to send: far longer than the cancel delay
  slow.cancel_after = std::chrono::milliseconds(2000);
  std::unique_ptr<Machine> none = Migrate(src, DestinationDir("cancelled"), slow, &r);

  EXPECT_EQ(none, nullptr);
  EXPECT_EQ(r.status, "cancelled");
  EXPECT_THAT(r.statuses, ::testing::Contains("active"));
  EXPECT_THAT(r.differences, IsEmpty());
  EXPECT_TRUE(src.Running());
  EXPECT_EQ(src.Qmp().Execute("query-status").value("status", ""), "running");
  EXPECT_THAT(QemuProcessesMentioning(DestinationDir("cancelled").string()), IsEmpty());
  ExpectConsistent(src);
  // Hotplug still works on the source (a plug only: an unplug would trip the
  // QEMU 7.2 TCG bug of HoleLeftByAnUnplugSurvivesMigration in the migration below).
  Plug(src, "cpu2");
  OnlineAll(src, 3);
  ExpectConsistent(src);

  Machine& dst = MigrateTo(src, "dst", {}, &r);
  EXPECT_EQ(r.status, "completed");
  EXPECT_THAT(r.differences, IsEmpty());
  EXPECT_EQ(ReadMask(dst, "online"), CpuSet::Range(0, 2));
  ExpectConsistent(dst);
}

// sockets=2,cores=2,threads=2, booted with core 0's two threads, and core 1
// half plugged (thread 0 only): the destination must recreate exactly that
// thread. Socket 0 only: onlining a socket-1 CPU now and then hangs this TCG
// guest in stop_machine, with or without migration.
TEST_F(MigrationTest, PartiallyPluggedCoreInAMultiThreadTopology) {
  MachineSpec spec =
      KitSpec("src", {.cpus = 2, .maxcpus = 8, .sockets = 2, .cores = 2, .threads = 2});
  spec.cpu_model = "max";  // qemu64 is an AMD model that warns about hyperthreading
  Machine& src = BootGuest(spec);
  PlugAt(src, CpuProps::At(0, 1, 0), "cpu-s0c1t0");
  OnlineAll(src, 3);
  ExpectConsistent(src);

  MigrationResult r;
  Machine& dst = MigrateTo(src, "dst", {}, &r);

  EXPECT_THAT(r.differences, IsEmpty());
  std::vector<std::string> devices;
  for (size_t i = 0; i + 1 < r.destination_args.size(); ++i) {
    if (r.destination_args[i] == "-device" &&
        r.destination_args[i + 1].rfind("max-x86_64-cpu", 0) == 0) {
      devices.push_back(r.destination_args[i + 1]);
    }
  }
  EXPECT_THAT(devices, ElementsAre("max-x86_64-cpu,id=cpu-s0c1t0,socket-id=0,core-id=1,thread-id=0"));
  EXPECT_EQ(ReadMask(dst, "online"), CpuSet::Range(0, 2));
  ExpectConsistent(dst);
  // Complete the core on the destination, then take the new thread away again.
  PlugOnlineUnplug(dst, "cpu-s0c1t1");
}

// Post-copy: the destination runs the guest before all memory has arrived.
TEST_F(MigrationTest, PostcopyMigrationCarriesThePluggedCpu) {
  Machine& src = BootGuest(KitSpec("src", {.cpus = 1, .maxcpus = 4}));
  Plug(src, "cpu1");
  OnlineAll(src, 2);

  MigrationResult r;
  MigrationOptions options;
  options.postcopy = true;
  options.max_bandwidth = 32 << 20;  // slow enough that the switch happens mid-copy
  Machine& dst = MigrateTo(src, "dst", options, &r);

  EXPECT_THAT(r.statuses, ::testing::Contains("postcopy-active"));
  EXPECT_GT(r.query_migrate["ram"].value("postcopy-bytes", int64_t{0}), 0) << r.query_migrate.dump();
  EXPECT_THAT(r.differences, IsEmpty());
  ExpectConsistent(dst);
  PlugOnlineUnplug(dst, "cpu2");
}

}  // namespace
}  // namespace cpuhp::testing
