// The reboot and rollback invariants (check/lifecycle.h) on captured guests,
// and one fabricated breakage each: every one of them can fail.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "captured_guest.h"
#include "check/lifecycle.h"

namespace cpuhp::testing {
namespace {

using ::testing::HasSubstr;

std::set<std::string> FailingNames(const CheckResult& r) {
  std::set<std::string> out;
  for (const auto& f : r.Failures()) out.insert(f.name);
  return out;
}

// intel-2s2c2t-onlined: present/online 0-3, two slots hot-plugged.
TEST(CheckRebootTest, AGuestThatBootedEveryPluggedCpuPasses) {
  CapturedGuest g = LoadCapturedGuest("intel-2s2c2t-onlined");
  CheckResult r = CheckReboot(g.host, g.host, g.guest);
  EXPECT_TRUE(r.Passed()) << r.Summary();
  EXPECT_EQ(r.invariants.size(), 2u);
}

TEST(CheckRebootTest, ASlotLostInTheResetFails) {
  CapturedGuest g = LoadCapturedGuest("intel-2s2c2t-onlined");
  HostView after = g.host;
  for (auto& s : after.slots) {
    if (s.qom_path && s.qom_path->find("peripheral") != std::string::npos) {
      s.qom_path.reset();
      break;
    }
  }
  CheckResult r = CheckReboot(g.host, after, g.guest);
  EXPECT_EQ(FailingNames(r), std::set<std::string>{"reboot-slots-kept"}) << r.Summary();
  EXPECT_THAT(r.Summary(), HasSubstr("gone after the reboot"));
}

TEST(CheckRebootTest, APresentCpuLeftOfflineAtBootFails) {
  // intel-2s2c2t-cpu1-offline: present 0-3, cpu1 offline.
  CapturedGuest g = LoadCapturedGuest("intel-2s2c2t-cpu1-offline");
  CheckResult r = CheckReboot(g.host, g.host, g.guest);
  EXPECT_EQ(FailingNames(r), std::set<std::string>{"reboot-cpus-online"}) << r.Summary();
  EXPECT_THAT(r.Summary(), HasSubstr("1 present but not brought up at boot"));
}

// A guest whose cpu1 has hotplug/{state,target,fail} (a kernel with
// CONFIG_CPU_HOTPLUG_STATE_CONTROL), as a failed offline must leave it.
GuestSnapshot WithFailFile() {
  GuestSnapshot g = LoadCapturedGuest("intel-2s2c2t-onlined").guest;
  GuestCpu& cpu1 = g.cpus.at(1);
  cpu1.hotplug_state = g.StateNumber("online").value();
  cpu1.hotplug_target = cpu1.hotplug_state;
  cpu1.hotplug_fail = -1;
  return g;
}

TEST(CheckRollbackTest, AnUnchangedGuestPasses) {
  GuestSnapshot before = WithFailFile();
  CheckResult r = CheckRollback(before, before, 1);
  EXPECT_TRUE(r.Passed()) << r.Summary();
  std::vector<std::string> names;
  for (const auto& i : r.invariants) names.push_back(i.name);
  std::vector<std::string> rollback(LifecycleInvariantNames().begin() + 2,
                                    LifecycleInvariantNames().end());
  EXPECT_EQ(names, rollback);
}

TEST(CheckRollbackTest, EachBrokenRollbackIsNamed) {
  struct Case {
    std::string invariant;
    void (*apply)(GuestSnapshot&);
    std::string detail;
  };
  const Case cases[] = {
      {"rollback-state", [](GuestSnapshot& g) { g.cpus.at(1).hotplug_state = 100; },
       "cpu1 hotplug/state=100, expected the state before"},
      {"rollback-state",
       [](GuestSnapshot& g) {
         g.cpus.at(1).hotplug_state = 0;
         g.cpus.at(1).hotplug_target = 0;
       },
       "hotplug/target=0"},
      {"rollback-masks",
       [](GuestSnapshot& g) {
         g.online.Erase(1);
         g.offline.Insert(1);
       },
       "online mask 0,2-3, expected unchanged, 0-3"},
      {"rollback-states-table", [](GuestSnapshot& g) { g.states.pop_back(); },
       "hotplug/states"},
      {"rollback-fail-consumed", [](GuestSnapshot& g) { g.cpus.at(1).hotplug_fail = 219; },
       "cpu1 hotplug/fail=219, expected -1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.invariant);
    GuestSnapshot before = WithFailFile();
    GuestSnapshot after = before;
    c.apply(after);
    CheckResult r = CheckRollback(before, after, 1);
    EXPECT_TRUE(FailingNames(r).count(c.invariant)) << r.Summary();
    EXPECT_THAT(r.Find(c.invariant)->detail, HasSubstr(c.detail));
  }
}

TEST(CheckRollbackTest, StatesResolveByNameOrListedNumber) {
  std::vector<HotplugState> states =
      ParseHotplugStates("0: offline\n100: sched:active\n219: ap:online\n");
  EXPECT_EQ(ResolveHotplugState(states, "sched:active"), 100);
  EXPECT_EQ(ResolveHotplugState(states, "219"), 219);
  EXPECT_EQ(ResolveHotplugState(states, "220"), std::nullopt);
  EXPECT_EQ(ResolveHotplugState(states, "sched"), std::nullopt);
  EXPECT_EQ(ResolveHotplugState(states, ""), std::nullopt);
}

}  // namespace
}  // namespace cpuhp::testing
