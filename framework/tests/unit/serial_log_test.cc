// Kernel distress found in real guest console output.
#include <gtest/gtest.h>

#include "vm/serial_log.h"

namespace cpuhp {
namespace {

// Captured from a Debian 6.1 guest under QEMU 7.2 TCG (-smp 1,maxcpus=4)
// while guest-set-vcpus onlined a hot-added CPU.
constexpr char kStopMachineStall[] =
    "cpuhp-guest-ready\r\n"
    "[   30.091055] watchdog: BUG: soft lockup - CPU#1 stuck for 27s! [migration/1:99]\r\n"
    "[   30.091055] Modules linked in: virtio_console virtio_pci\r\n"
    "[   85.885300] Stopper: multi_cpu_stop+0x0/0x120 <- stop_machine_from_inactive_cpu+0x11d/0x180\r\n"
    "[   85.885407] RIP: 0010:stop_machine_yield+0x2/0x10\r\n";

TEST(SerialLogTest, FindsTheFirstSoftLockupLine) {
  auto line = FindKernelDistress(kStopMachineStall);
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(*line, "[   30.091055] watchdog: BUG: soft lockup - CPU#1 stuck for 27s! [migration/1:99]");
  EXPECT_TRUE(LooksLikeStopMachineStall(kStopMachineStall));
}

TEST(SerialLogTest, FindsRcuStallsAndPanics) {
  auto rcu = FindKernelDistress(
      "[    1.0] ok\n[   60.1] rcu: INFO: rcu_sched self-detected stall on CPU\n");
  ASSERT_TRUE(rcu.has_value());
  EXPECT_EQ(*rcu, "[   60.1] rcu: INFO: rcu_sched self-detected stall on CPU");
  auto panic = FindKernelDistress("x\nKernel panic - not syncing: Attempted to kill init!\n");
  ASSERT_TRUE(panic.has_value());
  EXPECT_EQ(*panic, "Kernel panic - not syncing: Attempted to kill init!");
}

TEST(SerialLogTest, ACleanBootIsNotDistress) {
  constexpr char kClean[] =
      "[    1.994601] smpboot: Booting Node 0 Processor 1 APIC 0x1\r\n"
      "[    2.1] Unstable clock detected, switching default tracing clock to \"global\"\r\n"
      "cpuhp-guest-ready\r\n";
  EXPECT_FALSE(FindKernelDistress(kClean).has_value());
  EXPECT_FALSE(LooksLikeStopMachineStall(kClean));
}

// A stall elsewhere (not in the hotplug rendezvous) is distress, but not
// the TCG flat-APIC signature.
TEST(SerialLogTest, AnRcuStallOutsideStopMachineIsNotTheFlatApicSignature) {
  constexpr char kRcu[] = "[   60.1] rcu: INFO: rcu_sched detected stalls on CPUs/tasks:\n"
                          "[   60.2]  schedule+0x2e/0xa0\n";
  EXPECT_TRUE(FindKernelDistress(kRcu).has_value());
  EXPECT_FALSE(LooksLikeStopMachineStall(kRcu));
}

}  // namespace
}  // namespace cpuhp
