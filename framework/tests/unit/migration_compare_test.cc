// Comparing the two sides of a migration hop: what must not change.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "vm/migration.h"

namespace cpuhp {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

HostView CoresView() {
  HostView v;
  v.slots = ParseHotpluggableCpus(nlohmann::json::parse(R"json([
    {"props": {"core-id": 2, "thread-id": 0, "socket-id": 0}, "vcpus-count": 1, "type": "qemu64-x86_64-cpu"},
    {"props": {"core-id": 1, "thread-id": 0, "socket-id": 0}, "vcpus-count": 1, "qom-path": "/machine/peripheral/cpu1", "type": "qemu64-x86_64-cpu"},
    {"props": {"core-id": 0, "thread-id": 0, "socket-id": 0}, "vcpus-count": 1, "qom-path": "/machine/unattached/device[0]", "type": "qemu64-x86_64-cpu"}])json"));
  v.cpus = ParseCpusFast(nlohmann::json::parse(R"json([
    {"thread-id": 100, "props": {"core-id": 0, "thread-id": 0, "socket-id": 0}, "qom-path": "/machine/unattached/device[0]", "cpu-index": 0},
    {"thread-id": 101, "props": {"core-id": 1, "thread-id": 0, "socket-id": 0}, "qom-path": "/machine/peripheral/cpu1", "cpu-index": 1}])json"));
  return v;
}

TEST(CompareHostViewsTest, HostThreadIdsAndListOrderDoNotMatter) {
  HostView before = CoresView();
  HostView after = CoresView();
  for (auto& c : after.cpus) c.thread_id += 1000;  // a different QEMU process
  std::reverse(after.cpus.begin(), after.cpus.end());
  std::reverse(after.slots.begin(), after.slots.end());
  EXPECT_THAT(CompareHostViews(before, after), IsEmpty());
}

TEST(CompareHostViewsTest, AMissingCpuIsReportedBySlotAndIndex) {
  HostView before = CoresView();
  HostView after = CoresView();
  after.slots[1].qom_path.reset();
  after.cpus.pop_back();
  EXPECT_THAT(CompareHostViews(before, after),
              ElementsAre(HasSubstr("slot socket-id=0,core-id=1,thread-id=0: qemu64-x86_64-cpu "
                                    "plugged as /machine/peripheral/cpu1 before, "
                                    "qemu64-x86_64-cpu free after"),
                          HasSubstr("cpu-index 1: /machine/peripheral/cpu1 before, absent after")));
}

TEST(CompareHostViewsTest, ACpuAtAnotherPathIsADifference) {
  HostView before = CoresView();
  HostView after = CoresView();
  after.cpus[1].qom_path = "/machine/peripheral/other";
  EXPECT_THAT(CompareHostViews(before, after),
              ElementsAre(HasSubstr("cpu-index 1 qom-path: /machine/peripheral/cpu1 before, "
                                    "/machine/peripheral/other after")));
}

GuestSnapshot TwoCpus() {
  GuestSnapshot s;
  s.possible = CpuSet::Parse("0-3");
  s.present = CpuSet::Parse("0-1");
  s.online = CpuSet::Parse("0-1");
  s.kernel_max = 8191;
  s.states = {{0, "offline"}, {236, "online"}};
  s.cpuinfo_processors = 2;
  GuestCpu c0;
  c0.id = 0;
  c0.topology = CpuTopology{0, 0, 0, CpuSet{0}, CpuSet{0}};
  c0.apic_id = 0;
  c0.hotplug_state = 236;
  c0.hotplug_target = 236;
  GuestCpu c1 = c0;
  c1.id = 1;
  c1.online = true;
  c1.topology = CpuTopology{0, 0, 1, CpuSet{1}, CpuSet{1}};
  c1.apic_id = 1;
  s.cpus = {{0, c0}, {1, c1}};
  s.agent_vcpus = {{0, true, false}, {1, true, true}};
  return s;
}

TEST(CompareGuestSnapshotsTest, IdenticalSnapshotsAgree) {
  EXPECT_THAT(CompareGuestSnapshots(TwoCpus(), TwoCpus()), IsEmpty());
}

TEST(CompareGuestSnapshotsTest, ACpuGoneOfflineIsReportedEverywhereItShows) {
  GuestSnapshot after = TwoCpus();
  after.online = CpuSet{0};
  after.offline = CpuSet{1};
  after.cpus[1].online = false;
  after.cpus[1].topology.reset();
  after.cpus[1].apic_id.reset();
  after.cpus[1].hotplug_state = 0;
  after.cpus[1].hotplug_target = 0;
  after.cpuinfo_processors = 1;
  after.agent_vcpus[1].online = false;
  auto diffs = CompareGuestSnapshots(TwoCpus(), after);
  EXPECT_THAT(diffs, ElementsAre(HasSubstr("guest online: 0-1 before, 0 after"),
                                 HasSubstr("guest offline: (empty) before, 1 after"),
                                 HasSubstr("guest cpu1 online: 1 before, 0 after"),
                                 HasSubstr("guest cpu1 topology: package 0 die 0 core 1"),
                                 HasSubstr("guest cpu1 apicid: 1 before, absent after"),
                                 HasSubstr("guest cpu1 hotplug/state: 236 before, 0 after"),
                                 HasSubstr("guest cpu1 hotplug/target: 236 before, 0 after"),
                                 HasSubstr("processors: 2 before, 1 after"),
                                 HasSubstr("logical-id 1: online before, offline after")));
}

TEST(CompareGuestSnapshotsTest, AChangedStateTableNamesTheFirstDifference) {
  GuestSnapshot after = TwoCpus();
  after.states[1].name = "online-dyn";
  EXPECT_THAT(CompareGuestSnapshots(TwoCpus(), after),
              ElementsAre(HasSubstr("first difference: \"236: online\" before, "
                                    "\"236: online-dyn\" after")));
}

TEST(CompareGuestSnapshotsTest, AVanishedCpuDirectoryIsReported) {
  GuestSnapshot after = TwoCpus();
  after.cpus.erase(1);
  EXPECT_THAT(CompareGuestSnapshots(TwoCpus(), after),
              ElementsAre(HasSubstr("guest cpu1: present before, absent after")));
}

}  // namespace
}  // namespace cpuhp
