// Kernel distress found in real guest console output.
#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "util/fd.h"
#include "util/file.h"
#include "util/temp_dir.h"
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

// Both kernels' words for the CPUs they allow, as printed on a console with
// loglevel=7 (6.12 under QEMU 7.2 TCG; the 6.1 kit, -smp 1,maxcpus=4).
TEST(CpuAllowanceLineTest, ReadsBothKernelsFormats) {
  auto topo = ParseCpuAllowanceLine(
      "[    0.010213] CPU topo: Allowing 1 present CPUs plus 0 hotplug CPUs\r");
  ASSERT_TRUE(topo.has_value());
  EXPECT_EQ(topo->possible, 1);
  EXPECT_EQ(topo->hotplug, 0);
  EXPECT_EQ(topo->text, "CPU topo: Allowing 1 present CPUs plus 0 hotplug CPUs");
  // 6.9+ counts present and hotplug apart; 6.1's first number is all of them.
  EXPECT_EQ(
      ParseCpuAllowanceLine("CPU topo: Allowing 1 present CPUs plus 3 hotplug CPUs")->possible, 4);
  auto smpboot = ParseCpuAllowanceLine("[    0.013420] smpboot: Allowing 4 CPUs, 3 hotplug CPUs");
  ASSERT_TRUE(smpboot.has_value());
  EXPECT_EQ(smpboot->possible, 4);
  EXPECT_EQ(smpboot->hotplug, 3);
  EXPECT_EQ(smpboot->text, "smpboot: Allowing 4 CPUs, 3 hotplug CPUs");
}

TEST(CpuAllowanceLineTest, RefusesAnythingElse) {
  for (std::string_view line : {
           "",
           "smpboot: Booting Node 0 Processor 1 APIC 0x1",
           "smpboot: Allowing CPUs, 3 hotplug CPUs",
           "smpboot: Allowing 4 CPUs 3 hotplug CPUs",
           "smpboot: Allowing -4 CPUs, 3 hotplug CPUs",
           "smpboot: Allowing 4 CPUs, 3 hotplug CPUs and then some",
           "smpboot: Allowing 4 CPUs, 3 hotplug CPUs\x1b[2J",
           "CPU topo: Allowing 1 present CPUs plus 0x10 hotplug CPUs",
           "CPU topo: Allowing 123456 present CPUs plus 0 hotplug CPUs",
           "CPU topo: Allowing 99999999999999999999 present CPUs plus 0 hotplug CPUs",
           "cpu topo: allowing 1 present cpus plus 0 hotplug cpus",
       }) {
    EXPECT_FALSE(ParseCpuAllowanceLine(line).has_value()) << line;
  }
}

TEST(CpuAllowanceLineTest, FindsTheFirstLineInABootEvenAfterHugeLines) {
  std::string console = "[    0.0] Linux version 6.1.0-57-amd64\r\n";
  console += std::string(4 << 20, 'A') + " Allowing " + std::string(1 << 20, 'x') + "\r\n";
  for (int i = 0; i < 100000; ++i) console += "Allowing ";  // one long line of near-misses
  console +=
      "\n[    0.01] smpboot: Allowing 4 CPUs, 3 hotplug CPUs\r\n"
      "[    0.02] smpboot: Allowing 9 CPUs, 8 hotplug CPUs\r\n";
  auto found = FindCpuAllowanceLine(console);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->text, "smpboot: Allowing 4 CPUs, 3 hotplug CPUs");
  EXPECT_FALSE(FindCpuAllowanceLine("cpuhp-guest-ready\r\n").has_value());
  EXPECT_FALSE(FindCpuAllowanceLine(std::string(1 << 20, '\n')).has_value());
}

// The guest's side of a console (QEMU's end of the socket) and the pump on
// the other end, writing serial.log.
class SerialLogPumpTest : public ::testing::Test {
 protected:
  void Start(SerialLogLimits limits = {}) {
    auto [guest, pump_end] = SocketPair();
    guest_ = std::move(guest);
    pump_.emplace(std::move(pump_end), log_, limits);
  }
  void GuestWrites(std::string_view text) {
    WriteAll(guest_.get(), text, Deadline::After(std::chrono::seconds(10)));
  }
  // The log once it holds `n` bytes, or what it holds after a generous bound.
  std::string LogOnceItHolds(size_t n) {
    for (int i = 0; i < 500 && std::filesystem::file_size(log_) < n; ++i) ::usleep(20000);
    return ReadFileToString(log_);
  }

  TempDir dir_{std::filesystem::temp_directory_path(), "cpuhp-test-"};
  std::filesystem::path log_ = dir_.path() / "serial.log";
  UniqueFd guest_;
  std::optional<SerialLogPump> pump_;
};

TEST_F(SerialLogPumpTest, WritesTheConsoleAsItArrives) {
  Start();
  GuestWrites("[    0.0] Linux version 6.1\r\n");
  // Still connected: what came is already in the file, as a crash would leave it.
  EXPECT_EQ(LogOnceItHolds(28), "[    0.0] Linux version 6.1\r\n");
  GuestWrites("cpuhp-guest-ready\r\n");
  guest_.reset();
  EXPECT_TRUE(pump_->WaitForEnd(Deadline::After(std::chrono::seconds(10))));
  EXPECT_EQ(ReadFileToString(log_), "[    0.0] Linux version 6.1\r\ncpuhp-guest-ready\r\n");
}

TEST_F(SerialLogPumpTest, AGuestThatNeverStopsPrintingFillsOnlyTheCapAndIsNeverBlocked) {
  const SerialLogLimits limits{.head = 64 << 10, .tail = 16 << 10};
  Start(limits);
  GuestWrites("first line\n");
  const std::string chunk(64 << 10, 'x');
  for (int i = 0; i < 128; ++i) GuestWrites(chunk);  // 8 MiB, each write under a deadline
  GuestWrites("\nKernel panic - not syncing: the end\n");
  guest_.reset();
  ASSERT_TRUE(pump_->WaitForEnd(Deadline::After(std::chrono::seconds(10))));
  const std::string log = ReadFileToString(log_);
  EXPECT_LE(log.size(), limits.head + limits.tail + 512) << "serial.log is " << log.size() << " bytes";
  EXPECT_EQ(log.rfind("first line\n", 0), 0u);
  EXPECT_NE(log.find(kSerialLogCutMarker), std::string::npos);
  // The end of the console (a panic, say) is what a diagnosis needs most.
  const std::string end = "Kernel panic - not syncing: the end\n";
  EXPECT_EQ(log.substr(log.size() - end.size()), end);
  EXPECT_EQ(FindKernelDistress(ReadConsoleForDiagnosis(log_)).value_or(""),
            "Kernel panic - not syncing: the end");
}

TEST_F(SerialLogPumpTest, StopsWhileTheGuestEndStaysOpenKeepingWhatCame) {
  Start();
  GuestWrites("still booting\n");
  LogOnceItHolds(14);
  EXPECT_FALSE(pump_->WaitForEnd(Deadline::AfterUnscaled(std::chrono::milliseconds(50))));
  pump_.reset();  // joins although QEMU (the guest end) never closed
  EXPECT_EQ(ReadFileToString(log_), "still booting\n");
}

// What a wait_for_console step sees: the lines the pump keeps.
TEST_F(SerialLogPumpTest, WaitsForALineThatComesLaterAndNumbersLinesFromOne) {
  Start();
  GuestWrites("[    0.1] smpboot: CPU0: Intel\r\n");
  std::thread guest([&] {
    ::usleep(100000);
    GuestWrites("[    5.0] smpboot: CPU 2 is now offline\r\n");
  });
  ConsoleLineWait wait = pump_->WaitForLine(
      0, [](std::string_view line) { return line.find("is now offline") != line.npos; },
      Deadline::After(std::chrono::seconds(10)));
  guest.join();
  ASSERT_TRUE(wait.line.has_value());
  EXPECT_EQ(wait.line->number, 2u);
  EXPECT_EQ(wait.line->text, "[    5.0] smpboot: CPU 2 is now offline");  // no \r
  EXPECT_EQ(wait.last_number, 2u);
  EXPECT_FALSE(wait.ended);
}

TEST_F(SerialLogPumpTest, AWaitStartsAfterTheLineGivenSoAMatchIsNotSeenTwice) {
  Start();
  GuestWrites("ready\nready\n");
  auto is_ready = [](std::string_view line) { return line == "ready"; };
  const Deadline soon = Deadline::AfterUnscaled(std::chrono::milliseconds(200));
  ConsoleLineWait first = pump_->WaitForLine(0, is_ready, Deadline::After(std::chrono::seconds(10)));
  ASSERT_TRUE(first.line.has_value());
  ConsoleLineWait second = pump_->WaitForLine(first.line->number, is_ready, soon);
  ASSERT_TRUE(second.line.has_value());
  EXPECT_EQ(second.line->number, 2u);
  ConsoleLineWait third = pump_->WaitForLine(second.line->number, is_ready, soon);
  EXPECT_FALSE(third.line.has_value());
  EXPECT_EQ(third.last_number, 2u);
  EXPECT_TRUE(soon.Expired());
}

TEST_F(SerialLogPumpTest, AConsoleThatEndsEndsTheWaitAndItsUnfinishedLineCounts) {
  Start();
  GuestWrites("login: ");
  guest_.reset();
  ConsoleLineWait wait = pump_->WaitForLine(
      0, [](std::string_view line) { return line == "never"; }, Deadline::After(std::chrono::seconds(10)));
  EXPECT_FALSE(wait.line.has_value());
  EXPECT_TRUE(wait.ended);
  ASSERT_EQ(pump_->LastLines(5).size(), 1u);
  EXPECT_EQ(pump_->LastLines(5)[0].text, "login: ");
}

TEST_F(SerialLogPumpTest, KeepsTheLastLinesCutShortAndCountsThoseThatScrolledAway) {
  Start();
  const size_t extra = 10;
  std::string flood;
  for (size_t i = 1; i <= SerialLogPump::kKeptLines + extra; ++i) flood += "line " + std::to_string(i) + "\n";
  GuestWrites(flood);
  GuestWrites(std::string(3 * SerialLogPump::kMaxLineBytes, 'a') + "\n");
  guest_.reset();
  ASSERT_TRUE(pump_->WaitForEnd(Deadline::After(std::chrono::seconds(10))));
  ConsoleLineWait wait = pump_->WaitForLine(
      0, [](std::string_view line) { return line.starts_with("aaa"); }, Deadline::After(std::chrono::seconds(10)));
  ASSERT_TRUE(wait.line.has_value());
  EXPECT_EQ(wait.line->number, SerialLogPump::kKeptLines + extra + 1);
  EXPECT_EQ(wait.line->text.size(), SerialLogPump::kMaxLineBytes);
  EXPECT_EQ(wait.skipped, extra + 1);  // lines 1..11 had gone when the wait began
  EXPECT_EQ(pump_->LastLines(2)[0].text, "line " + std::to_string(SerialLogPump::kKeptLines + extra));
}

}  // namespace
}  // namespace cpuhp
