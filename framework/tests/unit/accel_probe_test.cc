// The KVM probe's decision (without a real KVM), the probe runner against
// fake QEMUs (a script that never starts, one that dies, one that answers),
// and what a boot failure's console says.
#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>
#include <sys/stat.h>

#include "util/temp_dir.h"
#include "vm/accel_probe.h"
#include "vm/serial_log.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

ProbeObservation Printed(std::string console) {
  ProbeObservation o;
  o.console = std::move(console);
  o.elapsed = milliseconds(42);
  return o;
}

const KvmDevice kGoodDevice{0, 12};

TEST(KvmProbeDecisionTest, ProbePasses) {
  ProbeVerdict v = DecideKvm(kGoodDevice, Printed("RBT"));
  EXPECT_TRUE(v.usable);
  EXPECT_EQ(v.reason, "a KVM guest took its timer interrupt in 42 ms");
}

TEST(KvmProbeDecisionTest, GuestPrintedNothing) {
  ProbeVerdict v = DecideKvm(kGoodDevice, Printed(""));
  EXPECT_FALSE(v.usable);
  EXPECT_EQ(v.reason, "/dev/kvm opens but a KVM guest printed nothing in 5.0 s");
}

TEST(KvmProbeDecisionTest, GuestStalledInModeSwitch) {
  ProbeVerdict v = DecideKvm(kGoodDevice, Printed("R"));
  EXPECT_FALSE(v.usable);
  EXPECT_EQ(v.reason,
            "/dev/kvm opens but a KVM guest stalled entering protected mode (it printed from real "
            "mode, then nothing in 5.0 s)");
}

TEST(KvmProbeDecisionTest, TimerNeverFired) {
  ProbeVerdict v = DecideKvm(kGoodDevice, Printed("RB"), std::chrono::seconds(3));
  EXPECT_FALSE(v.usable);
  EXPECT_EQ(v.reason, "/dev/kvm opens but a KVM guest ran but its timer interrupt never woke it in 3.0 s");
}

TEST(KvmProbeDecisionTest, QemuExitedQuotesItsLog) {
  ProbeObservation o = Printed("");
  o.exited = ExitStatus{1, 0};
  o.qemu_log = "qemu-system-x86_64: failed to set MSR 0x10a to 0x0\nmore";
  ProbeVerdict v = DecideKvm(kGoodDevice, o);
  EXPECT_FALSE(v.usable);
  EXPECT_EQ(v.reason,
            "/dev/kvm opens but QEMU exited (exit code 1) before a KVM guest ran: "
            "qemu-system-x86_64: failed to set MSR 0x10a to 0x0");
}

TEST(KvmProbeDecisionTest, DeviceMissing) {
  ProbeVerdict v = DecideKvm({ENOENT, 0}, std::nullopt);
  EXPECT_FALSE(v.usable);
  EXPECT_NE(v.reason.find("there is no /dev/kvm"), std::string::npos) << v.reason;
}

TEST(KvmProbeDecisionTest, PermissionDenied) {
  ProbeVerdict v = DecideKvm({EACCES, 0}, std::nullopt);
  EXPECT_FALSE(v.usable);
  EXPECT_NE(v.reason.find("permission denied opening /dev/kvm"), std::string::npos) << v.reason;
}

TEST(KvmProbeDecisionTest, WrongApiVersion) {
  ProbeVerdict v = DecideKvm({0, 11}, std::nullopt);
  EXPECT_FALSE(v.usable);
  EXPECT_EQ(v.reason, "/dev/kvm answered KVM_GET_API_VERSION with 11 (12 expected)");
}

TEST(KvmProbeDecisionTest, AGuestThatTalksBeforeItsTimerIsNotEnough) {
  // A "T" is the proof; a console full of other bytes is not.
  EXPECT_FALSE(DecideKvm(kGoodDevice, Printed("RBRBRB")).usable);
  EXPECT_TRUE(DecideTcg(Printed("RBT"), std::chrono::seconds(5)).usable);
}

// A fake qemu-system binary: a shell script that gets the probe's argv.
class FakeQemu {
 public:
  explicit FakeQemu(const std::string& body) : dir_(fs::temp_directory_path(), "cpuhp-fakeqemu-") {
    path_ = dir_.path() / "qemu-system-x86_64";
    std::ofstream(path_) << "#!/bin/sh\n" << body << "\n";
    fs::permissions(path_, fs::perms::owner_all);
  }
  std::string path() const { return path_.string(); }

 private:
  TempDir dir_;
  fs::path path_;
};

TEST(ProbeGuestTest, AQemuThatCannotStartIsReportedWithItsLog) {
  FakeQemu qemu("echo 'qemu-system-x86_64: -accel kvm: failed to initialize kvm: Permission denied' >&2\n"
                "exit 1");
  ProbeObservation o = RunProbeGuest(qemu.path(), Accel::kKvm, std::chrono::seconds(5));
  ASSERT_TRUE(o.exited);
  EXPECT_EQ(o.exited->code, 1);
  EXPECT_NE(o.qemu_log.find("failed to initialize kvm"), std::string::npos) << o.qemu_log;
  EXPECT_FALSE(DecideKvm(kGoodDevice, o).usable);
}

TEST(ProbeGuestTest, AGuestThatNeverPrintsEndsAtTheTimeout) {
  FakeQemu qemu("exec sleep 60");
  auto t0 = Clock::now();
  ProbeObservation o = RunProbeGuest(qemu.path(), Accel::kKvm, milliseconds(300));
  EXPECT_GE(Clock::now() - t0, milliseconds(300));
  EXPECT_FALSE(o.exited);  // killed by the probe, not exited by itself
  EXPECT_EQ(o.console, "");
  EXPECT_EQ(DecideKvm(kGoodDevice, o, milliseconds(300)).reason,
            "/dev/kvm opens but a KVM guest printed nothing in 300 ms");
}

TEST(ProbeGuestTest, AGuestThatTakesItsTimerPasses) {
  if (::system("command -v socat >/dev/null") != 0) GTEST_SKIP() << "socat is not installed";
  // Connects to the console socket named on its command line and prints as the firmware would.
  FakeQemu qemu(
      "for a in \"$@\"; do case $a in socket,id=console,path=*) sock=${a#socket,id=console,path=};; "
      "esac; done\n"
      "printf RBT | socat - UNIX-CONNECT:\"$sock\"\nexec sleep 60");
  ProbeObservation o = RunProbeGuest(qemu.path(), Accel::kKvm, std::chrono::seconds(10));
  EXPECT_EQ(o.console, "RBT");
  EXPECT_TRUE(DecideKvm(kGoodDevice, o).usable);
}

TEST(ProbeGuestTest, AMissingBinaryIsNotAGuest) {
  ProbeObservation o = RunProbeGuest("/nonexistent/qemu-system-x86_64", Accel::kKvm, milliseconds(500));
  EXPECT_FALSE(o.spawned);
  EXPECT_NE(DecideKvm(kGoodDevice, o).reason.find("cannot run QEMU"), std::string::npos);
}

TEST(BootFailureTest, EmptyConsoleMeansNothingRan) {
  EXPECT_EQ(ExplainBootFailure("").find("the guest printed nothing: firmware or the accelerator never ran"),
            0u);
  EXPECT_EQ(ExplainBootFailure("\n\r\n").find("the guest printed nothing"), 0u);
}

TEST(BootFailureTest, InitErrorIsQuoted) {
  std::string why = ExplainBootFailure(
      "[    0.1] tsc: x\ncpuhp-init: started\ncpuhp-guest-error: insmod /lib/virtio.ko failed\n");
  EXPECT_EQ(why, "the guest's /init reported an error: \"cpuhp-guest-error: insmod /lib/virtio.ko failed\"");
}

TEST(BootFailureTest, KernelPanicIsQuoted) {
  std::string why = ExplainBootFailure(
      "[    0.9] Kernel panic - not syncing: VFS: Unable to mount root fs\n[    0.9] ---[ end ]---\n");
  EXPECT_EQ(why, "the guest kernel is in trouble: \"[    0.9] Kernel panic - not syncing: VFS: Unable to "
                 "mount root fs\"");
}

TEST(BootFailureTest, KernelThatNeverReachedInit) {
  std::string why = ExplainBootFailure("[    0.03] tsc: Unable to calibrate against PIT\n[    1.5] last\n");
  EXPECT_EQ(why.find("the guest kernel printed but never started /init (last line: \"[    1.5] last\""), 0u)
      << why;
}

TEST(BootFailureTest, InitWithoutAgent) {
  std::string why = ExplainBootFailure("[    0.03] tsc: x\ncpuhp-init: started\n");
  EXPECT_NE(why.find("never said cpuhp-guest-ready"), std::string::npos) << why;
  EXPECT_NE(why.find("is the guest kit's /init starting qemu-ga?"), std::string::npos) << why;
}

TEST(BootFailureTest, ReadyButSilentAgent) {
  std::string why = ExplainBootFailure("cpuhp-init: started\ncpuhp-guest-ready\n");
  EXPECT_EQ(why.find("the guest said cpuhp-guest-ready but its agent never answered"), 0u) << why;
}

TEST(BootFailureTest, GuestTextIsEscapedAndCut) {
  EXPECT_EQ(QuoteGuestLine("a\x1b[2Jb\x07"), "\"a\\x1b[2Jb\\x07\"");
  EXPECT_EQ(QuoteGuestLine(std::string(300, 'x'), 10), "\"xxxxxxxxxx...\"");
  // A planted escape or newline in a panic line stays inside the quote.
  std::string why = ExplainBootFailure("Kernel panic - not syncing: \x1b]0;owned\x07\n");
  EXPECT_EQ(why.find('\x1b'), std::string::npos) << why;
}

TEST(BootFailureTest, ConsoleReadIsBounded) {
  TempDir dir(fs::temp_directory_path(), "cpuhp-console-");
  fs::path log = dir.path() / "serial.log";
  {
    std::ofstream out(log);
    out << "cpuhp-init: started\n" << std::string(5 * kMaxConsoleScan, 'x') << "\ncpuhp-guest-error: late\n";
  }
  std::string console = ReadConsoleForDiagnosis(log);
  EXPECT_LE(console.size(), 2 * kMaxConsoleScan + 64);
  EXPECT_NE(console.find("cpuhp-init: started"), std::string::npos);
  EXPECT_NE(console.find("cpuhp-guest-error: late"), std::string::npos);
  EXPECT_EQ(ReadConsoleForDiagnosis(dir.path() / "absent.log"), "");
}

}  // namespace
}  // namespace cpuhp
