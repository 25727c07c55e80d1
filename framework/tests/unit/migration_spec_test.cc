// DestinationSpec derivation: the destination's -device list from the
// source's query-hotpluggable-cpus / query-cpus-fast, captured from QEMU 7.2.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vm/migration.h"

namespace cpuhp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// -smp 1,maxcpus=4 (QEMU 7.2 puts the slots in cores), cpu1 plugged at core 1.
constexpr char kCoresHotpluggable[] = R"json([
  {"props": {"core-id": 3, "thread-id": 0, "socket-id": 0}, "vcpus-count": 1, "type": "qemu64-x86_64-cpu"},
  {"props": {"core-id": 2, "thread-id": 0, "socket-id": 0}, "vcpus-count": 1, "type": "qemu64-x86_64-cpu"},
  {"props": {"core-id": 1, "thread-id": 0, "socket-id": 0}, "vcpus-count": 1, "qom-path": "/machine/peripheral/cpu1", "type": "qemu64-x86_64-cpu"},
  {"props": {"core-id": 0, "thread-id": 0, "socket-id": 0}, "vcpus-count": 1, "qom-path": "/machine/unattached/device[0]", "type": "qemu64-x86_64-cpu"}])json";
constexpr char kCoresCpusFast[] = R"json([
  {"thread-id": 1675, "props": {"core-id": 0, "thread-id": 0, "socket-id": 0}, "qom-path": "/machine/unattached/device[0]", "cpu-index": 0, "target": "x86_64"},
  {"thread-id": 1695, "props": {"core-id": 1, "thread-id": 0, "socket-id": 0}, "qom-path": "/machine/peripheral/cpu1", "cpu-index": 1, "target": "x86_64"}])json";

// -smp 1,maxcpus=8,sockets=2,cores=2,threads=2 -cpu max; plugged in this
// order: socket 1 core 0 thread 1, then socket 0 core 1 thread 0 (each core
// partially plugged).
constexpr char kThreadsHotpluggable[] = R"json([
  {"props": {"core-id": 1, "thread-id": 1, "socket-id": 1}, "vcpus-count": 1, "type": "max-x86_64-cpu"},
  {"props": {"core-id": 1, "thread-id": 0, "socket-id": 1}, "vcpus-count": 1, "type": "max-x86_64-cpu"},
  {"props": {"core-id": 0, "thread-id": 1, "socket-id": 1}, "vcpus-count": 1, "qom-path": "/machine/peripheral/cpu-s1c0t1", "type": "max-x86_64-cpu"},
  {"props": {"core-id": 0, "thread-id": 0, "socket-id": 1}, "vcpus-count": 1, "type": "max-x86_64-cpu"},
  {"props": {"core-id": 1, "thread-id": 1, "socket-id": 0}, "vcpus-count": 1, "type": "max-x86_64-cpu"},
  {"props": {"core-id": 1, "thread-id": 0, "socket-id": 0}, "vcpus-count": 1, "qom-path": "/machine/peripheral/cpu-s0c1t0", "type": "max-x86_64-cpu"},
  {"props": {"core-id": 0, "thread-id": 1, "socket-id": 0}, "vcpus-count": 1, "type": "max-x86_64-cpu"},
  {"props": {"core-id": 0, "thread-id": 0, "socket-id": 0}, "vcpus-count": 1, "qom-path": "/machine/unattached/device[0]", "type": "max-x86_64-cpu"}])json";
constexpr char kThreadsCpusFast[] = R"json([
  {"thread-id": 17347, "props": {"core-id": 0, "thread-id": 0, "socket-id": 0}, "qom-path": "/machine/unattached/device[0]", "cpu-index": 0, "target": "x86_64"},
  {"thread-id": 17354, "props": {"core-id": 0, "thread-id": 1, "socket-id": 1}, "qom-path": "/machine/peripheral/cpu-s1c0t1", "cpu-index": 5, "target": "x86_64"},
  {"thread-id": 17356, "props": {"core-id": 1, "thread-id": 0, "socket-id": 0}, "qom-path": "/machine/peripheral/cpu-s0c1t0", "cpu-index": 2, "target": "x86_64"}])json";

HostView View(const char* hotpluggable, const char* cpus_fast) {
  return {ParseHotpluggableCpus(nlohmann::json::parse(hotpluggable)),
          ParseCpusFast(nlohmann::json::parse(cpus_fast))};
}


MachineSpec SourceSpec(SmpTopology smp) {
  MachineSpec spec;
  spec.name = "src";
  spec.smp = smp;
  spec.memory_mib = 512;
  spec.kernel = "/kit/vmlinux";
  spec.append = "console=ttyS0";
  spec.extra_args = {"-global", "kvm-pit.lost_tick_policy=discard"};
  return spec;
}

TEST(MigrationSpecTest, OneDevicePerHotPluggedCpuWithItsDriverIdAndProps) {
  auto devices = PluggedCpuDevices(View(kCoresHotpluggable, kCoresCpusFast), {.cpus = 1, .maxcpus = 4});
  EXPECT_THAT(devices, ElementsAre(CpuDevice{"qemu64-x86_64-cpu", "cpu1", CpuProps::At(0, 1, 0)}));
}

TEST(MigrationSpecTest, DestinationKeepsTheMachineAndAddsIncomingDefer) {
  SmpTopology smp{.cpus = 1, .maxcpus = 4};
  MachineSpec src = SourceSpec(smp);
  src.incoming = "defer";  // a destination of an earlier hop
  src.cpu_devices = {{"qemu64-x86_64-cpu", "stale", CpuProps::At(0, 3, 0)}};  // history, not state
  MachineSpec dst = DestinationSpecFrom(src, View(kCoresHotpluggable, kCoresCpusFast), "dst", {});
  EXPECT_EQ(dst.name, "dst");
  EXPECT_EQ(dst.incoming, "defer");
  EXPECT_EQ(dst.smp, smp);
  EXPECT_EQ(dst.memory_mib, 512);
  EXPECT_EQ(dst.kernel, src.kernel);
  EXPECT_EQ(dst.append, src.append);
  EXPECT_EQ(dst.extra_args, src.extra_args);
  EXPECT_THAT(dst.cpu_devices, ElementsAre(CpuDevice{"qemu64-x86_64-cpu", "cpu1", CpuProps::At(0, 1, 0)}));
}

TEST(MigrationSpecTest, CommandLineCarriesOneDeviceArgumentPerCpu) {
  MachineSpec dst = DestinationSpecFrom(SourceSpec({.cpus = 1, .maxcpus = 4}),
                                        View(kCoresHotpluggable, kCoresCpusFast), "dst", {});
  auto argv = BuildCommandLine(dst, Accel::kTcg, {"/q.sock", "/a.sock", "/serial.log"});
  std::string line = ShellQuote(argv);
  EXPECT_THAT(line, HasSubstr("-device qemu64-x86_64-cpu,id=cpu1,socket-id=0,core-id=1,thread-id=0"));
  EXPECT_THAT(line, HasSubstr("-smp 1,maxcpus=4"));
  EXPECT_THAT(line, HasSubstr("-incoming defer"));
}

TEST(MigrationSpecTest, PartiallyPluggedCoresKeepTheirThreadsInPlugOrder) {
  auto devices = PluggedCpuDevices(
      View(kThreadsHotpluggable, kThreadsCpusFast),
      {.cpus = 1, .maxcpus = 8, .sockets = 2, .cores = 2, .threads = 2});
  // query-cpus-fast order (the plug order), not slot order.
  EXPECT_THAT(devices, ElementsAre(CpuDevice{"max-x86_64-cpu", "cpu-s1c0t1", CpuProps::At(1, 0, 1)},
                                   CpuDevice{"max-x86_64-cpu", "cpu-s0c1t0", CpuProps::At(0, 1, 0)}));
}

TEST(MigrationSpecTest, OmittedDeviceIsLeftOut) {
  MigrationOptions options;
  options.omit_cpu_devices = {"cpu-s1c0t1"};
  MachineSpec dst = DestinationSpecFrom(
      SourceSpec({.cpus = 1, .maxcpus = 8, .sockets = 2, .cores = 2, .threads = 2}),
      View(kThreadsHotpluggable, kThreadsCpusFast), "dst", options);
  EXPECT_THAT(dst.cpu_devices, ElementsAre(CpuDevice{"max-x86_64-cpu", "cpu-s0c1t0", CpuProps::At(0, 1, 0)}));
}

TEST(MigrationSpecTest, OmittingAnUnknownDeviceIsAnError) {
  try {
    PluggedCpuDevices(View(kCoresHotpluggable, kCoresCpusFast), {.cpus = 1, .maxcpus = 4}, {"cpu9"});
    FAIL() << "expected MigrationError";
  } catch (const MigrationError& e) {
    EXPECT_THAT(e.what(), HasSubstr("\"cpu9\""));
    EXPECT_THAT(e.what(), HasSubstr("plugged: cpu1"));
  }
}

TEST(MigrationSpecTest, AnUnpluggedBootCpuCannotBeExpressed) {
  // -smp 2 started two boot CPUs; device[1] was unplugged since.
  HostView view = View(kCoresHotpluggable, kCoresCpusFast);
  try {
    PluggedCpuDevices(view, {.cpus = 2, .maxcpus = 4});
    FAIL() << "expected MigrationError";
  } catch (const MigrationError& e) {
    EXPECT_THAT(e.what(), HasSubstr("boot CPU was unplugged"));
  }
}

TEST(MigrationSpecTest, ACpuPluggedWithoutAnIdCannotBeRecreated) {
  HostView view = View(kCoresHotpluggable, kCoresCpusFast);
  view.slots[0].qom_path = "/machine/peripheral-anon/device[0]";
  EXPECT_THROW(PluggedCpuDevices(view, {.cpus = 1, .maxcpus = 4}), MigrationError);
}

TEST(MigrationSpecTest, NoHotPluggedCpusMeansNoDevices) {
  HostView view = View(kCoresHotpluggable, kCoresCpusFast);
  view.slots[2].qom_path.reset();
  view.cpus.pop_back();
  EXPECT_TRUE(PluggedCpuDevices(view, {.cpus = 1, .maxcpus = 4}).empty());
}

}  // namespace
}  // namespace cpuhp
