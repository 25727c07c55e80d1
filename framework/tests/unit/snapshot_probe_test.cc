// The guest probe on sysfs text captured from real guests: parsing, what it
// records for each kind of CPU, what it skips, and CPUs vanishing mid-read.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "captured_guest.h"
#include "guest/cpu_snapshot.h"

namespace cpuhp::testing {
namespace {

std::string ReadData(const std::string& guest, const std::string& path) {
  std::ifstream in(CapturedGuestDir(guest) / path);
  EXPECT_TRUE(in) << path;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

TEST(SnapshotParseTest, HotplugStatesOfARealKernel) {
  auto states =
      ParseHotplugStates(ReadData("intel-2s2c2t-boot", "sys/devices/system/cpu/hotplug/states"));
  ASSERT_EQ(states.size(), 65u);
  EXPECT_EQ(states.front(), (HotplugState{0, "offline"}));
  EXPECT_EQ(states.back(), (HotplugState{236, "online"}));
  GuestSnapshot s;
  s.states = states;
  EXPECT_EQ(s.StateNumber("sched:active"), 235);
  EXPECT_EQ(s.StateName(91), "cpu:bringup");
  EXPECT_EQ(s.StateName(90), "?");
}

TEST(SnapshotParseTest, BadStateLineIsNamed) {
  try {
    ParseHotplugStates("  0: offline\n  x: broken\n");
    FAIL() << "accepted a bad line";
  } catch (const ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("x: broken"), std::string::npos) << e.what();
  }
}

TEST(SnapshotParseTest, CpuinfoOfARealGuest) {
  auto entries = ParseCpuinfo(ReadData("amd-2s2c2t-onlined", "proc/cpuinfo"));
  ASSERT_EQ(entries.size(), 4u);
  std::vector<int> apic;
  for (const auto& e : entries) {
    apic.push_back(e.apic_id.value_or(-1));
    EXPECT_EQ(e.vendor, "AuthenticAMD");
  }
  EXPECT_EQ(apic, (std::vector<int>{0, 1, 2, 7})) << "socket 1/core 1/thread 1 is APIC id 7";
}

TEST(SnapshotParseTest, OddMasks) {
  // Gaps, the kernel's ",N-M" for CPUs past nr_cpu_ids, a huge possible mask.
  EXPECT_EQ(ParseOfflineMask("1,4-7\n", "offline"), (CpuSet{1, 4, 5, 6, 7}));
  EXPECT_EQ(ParseOfflineMask(",4-7\n", "offline"), (CpuSet{4, 5, 6, 7}));
  EXPECT_TRUE(ParseOfflineMask("\n", "offline").Empty());
  EXPECT_EQ(ParseOfflineMask("0-8191\n", "offline").Size(), 8192u);
  EXPECT_THROW(ParseOfflineMask(",,4", "offline"), CpuListError);
  try {
    ParseOfflineMask("4-", "/sys/devices/system/cpu/offline");
    FAIL();
  } catch (const CpuListError& e) {
    EXPECT_NE(std::string(e.what()).find("/sys/devices/system/cpu/offline"), std::string::npos);
  }
}

TEST(SnapshotReadTest, RealGuestWithHotAddedCpus) {
  FakeGuestFiles files = FakeGuestFiles::Load(CapturedGuestDir("intel-2s2c2t-onlined"));
  GuestSnapshot s = ReadGuestSnapshot(files);
  EXPECT_EQ(s.possible, CpuSet::Range(0, 7));
  EXPECT_EQ(s.present, CpuSet::Range(0, 3));
  EXPECT_EQ(s.online, CpuSet::Range(0, 3));
  EXPECT_EQ(s.offline, CpuSet::Range(4, 7));
  EXPECT_EQ(s.kernel_max, 8191);
  EXPECT_EQ(s.cpu_vendor, "GenuineIntel");
  EXPECT_EQ(s.cpuinfo_processors, 4);
  EXPECT_EQ(s.probed, CpuSet::Range(0, 3));
  ASSERT_EQ(s.cpus.size(), 4u);

  // The boot CPU: not removable, target never set on 6.1.
  const GuestCpu& cpu0 = s.cpus.at(0);
  EXPECT_EQ(cpu0.online, std::nullopt);
  EXPECT_EQ(cpu0.hotplug_state, 236);
  EXPECT_EQ(cpu0.hotplug_target, 0);
  EXPECT_EQ(cpu0.hotplug_fail, -1);
  ASSERT_TRUE(cpu0.topology);
  EXPECT_EQ(cpu0.topology->thread_siblings, (CpuSet{0, 1}));

  // Hot-added after boot: online, topology and APIC id, but no hotplug/.
  const GuestCpu& cpu3 = s.cpus.at(3);
  EXPECT_EQ(cpu3.online, true);
  EXPECT_EQ(cpu3.apic_id, 7);
  EXPECT_EQ(cpu3.firmware_node, "\\_SB_.CPUS.C007");
  EXPECT_EQ(cpu3.hotplug_state, std::nullopt);
  ASSERT_TRUE(cpu3.topology);
  EXPECT_EQ(cpu3.topology->physical_package_id, 1);
  EXPECT_EQ(cpu3.topology->core_id, 1);

  ASSERT_EQ(s.agent_vcpus.size(), 4u);
  EXPECT_EQ(s.agent_vcpus.front(), (GuestVcpu{0, true, false})) << "sorted by logical id";
}

TEST(SnapshotReadTest, OfflineCpuKeepsOnlyItsAcpiNode) {
  FakeGuestFiles files = FakeGuestFiles::Load(CapturedGuestDir("intel-2s2c2t-plugged"));
  GuestSnapshot s = ReadGuestSnapshot(files);
  const GuestCpu& cpu3 = s.cpus.at(3);
  EXPECT_EQ(cpu3.online, false);
  EXPECT_EQ(cpu3.topology, std::nullopt);
  EXPECT_EQ(cpu3.apic_id, std::nullopt);
  EXPECT_EQ(cpu3.firmware_node, "\\_SB_.CPUS.C007");
  // An offline CPU's topology/ is not even asked for.
  EXPECT_EQ(files.reads().count("/sys/devices/system/cpu/cpu3/topology/physical_package_id"), 0u);
}

TEST(SnapshotReadTest, AsksOnlyForFilesThatCanExist) {
  FakeGuestFiles files = FakeGuestFiles::Load(CapturedGuestDir("intel-2s2c2t-onlined"));
  ReadGuestSnapshot(files);
  const auto& reads = files.reads();
  EXPECT_EQ(reads.count("/sys/devices/system/cpu/cpu2/hotplug/target"), 0u)
      << "no hotplug/target without a hotplug/state";
  EXPECT_EQ(reads.count("/sys/devices/system/cpu/cpu1/uevent"), 0u)
      << "an online file already proves the directory exists";
  EXPECT_EQ(reads.count("/sys/devices/system/cpu/cpu0/uevent"), 1u)
      << "no online file: uevent tells a missing directory apart";
  // Directories not listed by the agent, present or online are never probed.
  EXPECT_EQ(reads.count("/sys/devices/system/cpu/cpu4/online"), 0u);
  for (const auto& [path, count] : reads) EXPECT_EQ(count, 1) << path << " read twice";
}

TEST(SnapshotReadTest, MissingHotplugFailIsLearnedOnce) {
  // Kernels without CONFIG_CPU_HOTPLUG_STATE_CONTROL have no hotplug/fail:
  // after the first CPU shows that, the probe stops asking.
  FakeGuestFiles files = FakeGuestFiles::Load(CapturedGuestDir("intel-2s2c2t-onlined"));
  for (int cpu = 0; cpu < 4; ++cpu) {
    files.RemoveAll("/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/hotplug/fail");
  }
  GuestSnapshot s = ReadGuestSnapshot(files);
  EXPECT_EQ(s.cpus.at(0).hotplug_fail, std::nullopt);
  EXPECT_EQ(s.cpus.at(1).hotplug_state, 236);
  EXPECT_EQ(files.reads().count("/sys/devices/system/cpu/cpu0/hotplug/fail"), 1u);
  EXPECT_EQ(files.reads().count("/sys/devices/system/cpu/cpu1/hotplug/fail"), 0u);
}

// A guest whose possible mask is 0-8191 (possible_cpus=8192) but which has
// two CPUs: the probe must not look for 8192 directories.
TEST(SnapshotReadTest, HugePossibleMaskProbesOnlyExistingCpus) {
  FakeGuestFiles files = FakeGuestFiles::Load(CapturedGuestDir("amd-4s-onlined"));
  files.Set("/sys/devices/system/cpu/possible", "0-8191\n");
  files.Set("/sys/devices/system/cpu/offline", "2-8191\n");
  GuestSnapshot s = ReadGuestSnapshot(files);
  EXPECT_EQ(s.possible.Size(), 8192u);
  EXPECT_EQ(s.offline.Size(), 8190u);
  EXPECT_EQ(s.probed, (CpuSet{0, 1}));
  EXPECT_EQ(s.cpus.size(), 2u);
  EXPECT_LT(files.reads().size(), 40u);
}

TEST(SnapshotReadTest, CpuVanishingMidReadIsRecordedAbsent) {
  // An unplug races the probe: cpu1's directory goes away right after its
  // `online` file was read, halfway through its topology.
  FakeGuestFiles files = FakeGuestFiles::Load(CapturedGuestDir("amd-4s-onlined"));
  files.after_read = [&](const std::string& path) {
    if (path == "/sys/devices/system/cpu/cpu1/topology/die_id") {
      files.RemoveAll("/sys/devices/system/cpu/cpu1/");
    }
  };
  GuestSnapshot s = ReadGuestSnapshot(files);
  EXPECT_EQ(s.cpus.count(1), 0u) << "gone on the retry";
  EXPECT_EQ(s.cpus.count(0), 1u);
  EXPECT_GE(files.reads().at("/sys/devices/system/cpu/cpu1/online"), 2) << "it was retried";
}

TEST(SnapshotReadTest, AgentErrorMidCpuIsRetried) {
  FakeGuestFiles files = FakeGuestFiles::Load(CapturedGuestDir("amd-4s-onlined"));
  int failures = 0;
  files.after_read = [&](const std::string& path) {
    if (path == "/sys/devices/system/cpu/cpu1/firmware_node/path" && failures++ == 0) {
      throw AgentError("GenericError", "failed to read file: Input/output error",
                       {{"execute", "guest-file-read"}});
    }
  };
  GuestSnapshot s = ReadGuestSnapshot(files);
  ASSERT_EQ(s.cpus.count(1), 1u);
  EXPECT_EQ(s.cpus.at(1).firmware_node, "\\_SB_.CPUS.C002");
}

TEST(SnapshotReadTest, MalformedFilesAreNamed) {
  FakeGuestFiles files = FakeGuestFiles::Load(CapturedGuestDir("amd-4s-onlined"));
  files.Set("/sys/devices/system/cpu/present", "0-1,\n");
  try {
    ReadGuestSnapshot(files);
    FAIL() << "accepted a bad mask";
  } catch (const CpuListError& e) {
    EXPECT_NE(std::string(e.what()).find("/sys/devices/system/cpu/present"), std::string::npos);
  }
  files = FakeGuestFiles::Load(CapturedGuestDir("amd-4s-onlined"));
  files.Set("/sys/devices/system/cpu/cpu1/topology/core_id", "one\n");
  try {
    ReadGuestSnapshot(files);
    FAIL() << "accepted a bad number";
  } catch (const ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("cpu1/topology/core_id"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cpuhp::testing
