// Slot <-> guest CPU mapping: APIC ids computed from QEMU's slot props must be
// the ones real guests show, and ACPI processor names must lead to the same slot.
#include <gtest/gtest.h>

#include "captured_guest.h"
#include "check/cpu_mapping.h"

namespace cpuhp::testing {
namespace {


TEST(CheckMappingTest, ApicIdFieldWidths) {
  EXPECT_EQ(ApicIdFieldWidth(1), 0);
  EXPECT_EQ(ApicIdFieldWidth(2), 1);
  EXPECT_EQ(ApicIdFieldWidth(3), 2);
  EXPECT_EQ(ApicIdFieldWidth(4), 2);
  EXPECT_EQ(ApicIdFieldWidth(5), 3);
}

TEST(CheckMappingTest, ExpectedApicIds) {
  TopologyShape two_two_two{.sockets = 2, .dies = 1, .cores = 2, .threads = 2};
  EXPECT_EQ(two_two_two.ApicId(CpuProps::At(0, 0, 1)), 1);
  EXPECT_EQ(two_two_two.ApicId(CpuProps::At(0, 1, 0)), 2);
  EXPECT_EQ(two_two_two.ApicId(CpuProps::At(1, 1, 1)), 7);
  TopologyShape four_sockets{.sockets = 4, .dies = 1, .cores = 1, .threads = 1};
  EXPECT_EQ(four_sockets.ApicId(CpuProps::At(3, 0, 0)), 3);
  // Counts that are not powers of two leave holes in the APIC id space.
  TopologyShape three_cores{.sockets = 2, .dies = 1, .cores = 3, .threads = 1};
  EXPECT_EQ(three_cores.ApicId(CpuProps::At(1, 2, 0)), 6);
  TopologyShape dies{.sockets = 2, .dies = 2, .cores = 2, .threads = 2};
  EXPECT_EQ(dies.ApicId(CpuProps::At(1, 1, 1, 1)), 15);
  EXPECT_EQ(dies.ApicId(CpuProps::At(1, 0, 0, 0)), 8);
}

TEST(CheckMappingTest, TopologyFromARealReply) {
  EXPECT_EQ(TopologyOfSlots(LoadCapturedGuest("intel-2s2c2t-boot").host.slots),
            (TopologyShape{.sockets = 2, .dies = 1, .cores = 2, .threads = 2}));
  EXPECT_EQ(TopologyOfSlots(LoadCapturedGuest("amd-4s-plugged").host.slots),
            (TopologyShape{.sockets = 4, .dies = 1, .cores = 1, .threads = 1}));
}

TEST(CheckMappingTest, AcpiProcessorNames) {
  EXPECT_EQ(AcpiCpuIndex("\\_SB_.CPUS.C000"), 0);
  EXPECT_EQ(AcpiCpuIndex("\\_SB_.CPUS.C007"), 7);
  EXPECT_EQ(AcpiCpuIndex("\\_SB_.CPUS.C00A"), 10);
  EXPECT_EQ(AcpiCpuIndex("\\_SB_.CPUS.C1FF"), 511);
  EXPECT_EQ(AcpiCpuIndex("\\_SB_.PCI0.S00"), std::nullopt);
  EXPECT_EQ(AcpiCpuIndex("\\_SB_.CPUS.CPXY"), std::nullopt);
  EXPECT_EQ(AcpiCpuIndex("\\_SB_.CPUS.C"), std::nullopt);
  EXPECT_EQ(AcpiCpuIndex(""), std::nullopt);
}

// The computed APIC ids against what real guests print in /proc/cpuinfo,
// and the ACPI names against the same slots.
TEST(CheckMappingTest, RealGuestsAgreeWithComputedIds) {
  for (const char* name : {"intel-2s2c2t-onlined", "intel-2s2c2t-cpu1-offline",
                           "amd-2s2c2t-onlined", "amd-4s-onlined"}) {
    SCOPED_TRACE(name);
    CapturedGuest g = LoadCapturedGuest(name);
    CpuMapping m = MapCpus(g.host, g.guest);
    for (const auto& [id, cpu] : g.guest.cpus) {
      SCOPED_TRACE("cpu" + std::to_string(id));
      const GuestMatch& match = m.guests.at(id);
      ASSERT_TRUE(match.by_acpi) << "every CPU has an ACPI node";
      if (cpu.apic_id) {
        ASSERT_TRUE(match.by_apic);
        EXPECT_EQ(*match.by_apic, *match.by_acpi);
        EXPECT_EQ(m.slots[*match.by_apic].apic_id, *cpu.apic_id);
      }
      EXPECT_TRUE(m.SlotOf(id)->slot.plugged());
    }
  }
}

TEST(CheckMappingTest, OfflineHotAddedCpusMapByAcpiNode) {
  // cpu3 was the second CPU plugged, into the last slot: the guest numbers
  // by arrival, QEMU by topology.
  CapturedGuest g = LoadCapturedGuest("intel-2s2c2t-plugged");
  CpuMapping m = MapCpus(g.host, g.guest);
  ASSERT_EQ(m.slots.size(), 8u);
  const GuestMatch& cpu3 = m.guests.at(3);
  EXPECT_FALSE(cpu3.by_apic) << "offline: not in /proc/cpuinfo";
  ASSERT_TRUE(cpu3.by_acpi);
  EXPECT_EQ(m.slots[*cpu3.by_acpi].slot.props, CpuProps::At(1, 1, 1));
  EXPECT_EQ(m.slots[*cpu3.by_acpi].slot.qom_path, "/machine/peripheral/cpu-s1c1t1");
  EXPECT_EQ(m.GuestCpusOf(7), std::vector<int>{3});
  EXPECT_TRUE(m.GuestCpusOf(5).empty());
  // QEMU's cpu-index is the possible-CPU index, not the guest's number.
  EXPECT_EQ(m.slots[7].cpu_index, 7);
}

}  // namespace
}  // namespace cpuhp::testing
