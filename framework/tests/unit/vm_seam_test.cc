// The checker through the Vm seam (vm/vm.h): CheckMachine() reads both views
// through Vm::Qmp() and Vm::Agent() only, so a backend that is not direct QEMU
// (libvirt, say) gets the same verdicts from the same answers. Here the
// backend is a fake replaying QMP replies and guest files captured from a
// real guest (tests/data/guests).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "captured_guest.h"
#include "check/checker.h"
#include "vm/vm.h"

namespace cpuhp::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// QMP answers from a capture: a command not captured is refused, as QEMU
// refuses a command it lacks. No events ever come.
class RecordedQmp : public QmpLink {
 public:
  explicit RecordedQmp(std::map<std::string, nlohmann::json> replies)
      : replies_(std::move(replies)) {}

  nlohmann::json Execute(std::string_view command, const nlohmann::json& /*arguments*/,
                         const Deadline& /*deadline*/) override {
    executed.emplace_back(command);
    if (broken) throw ConnectionError(name_ + ": QEMU closed the connection");
    auto it = replies_.find(std::string(command));
    if (it == replies_.end()) {
      throw QmpError("CommandNotFound", "not captured", {{"execute", command}});
    }
    return it->second;
  }
  nlohmann::json WaitForEvent(std::string_view event, const EventPredicate&,
                              const Deadline&) override {
    throw TimeoutError(name_ + ": no " + std::string(event) + " in a recording");
  }
  std::optional<nlohmann::json> TryWaitForEvent(std::string_view, const EventPredicate&,
                                                const Deadline&) override {
    return std::nullopt;
  }
  std::optional<nlohmann::json> TryWaitForAnyEvent(const EventPredicate&,
                                                   const Deadline&) override {
    return std::nullopt;
  }
  void PollEvents() override {}
  std::vector<nlohmann::json> TakeEvents() override { return {}; }
  const std::string& name() const override { return name_; }

  std::vector<std::string> executed;
  bool broken = false;

 private:
  std::map<std::string, nlohmann::json> replies_;
  std::string name_ = "recorded-qmp";
};

// The guest agent over a captured file tree; it only reads.
class RecordedAgent : public AgentLink {
 public:
  explicit RecordedAgent(FakeGuestFiles files) : files_(std::move(files)) {}

  nlohmann::json Execute(std::string_view command, const nlohmann::json&,
                         const Deadline&) override {
    throw AgentError("CommandNotFound", "a recording only reads", {{"execute", command}});
  }
  void Ping(const Deadline&) override {}
  std::vector<GuestVcpu> GetVcpus(const Deadline& deadline) override {
    return files_.GetVcpus(deadline);
  }
  void SetVcpus(const std::vector<GuestVcpu>&, const Deadline&) override { ReadOnly(); }
  void SetOnline(int, bool, const Deadline&) override { ReadOnly(); }
  std::string ReadFile(const std::string& path, const Deadline& deadline) override {
    if (auto content = TryReadFile(path, deadline)) return *content;
    throw AgentError("GenericError", "No such file or directory", {{"path", path}});
  }
  std::optional<std::string> TryReadFile(const std::string& path,
                                         const Deadline& deadline) override {
    return files_.TryRead(path, deadline);
  }
  std::vector<std::optional<std::string>> TryReadFiles(const std::vector<std::string>& paths,
                                                       const Deadline& deadline) override {
    std::vector<std::optional<std::string>> out;
    for (const auto& p : paths) out.push_back(TryReadFile(p, deadline));
    return out;
  }
  void WriteFile(const std::string&, std::string_view, const Deadline&) override { ReadOnly(); }
  const std::string& name() const override { return name_; }

 private:
  [[noreturn]] static void ReadOnly() {
    throw AgentError("CommandNotFound", "a recording only reads", nullptr);
  }
  FakeGuestFiles files_;
  std::string name_ = "recorded-qga";
};

// A Vm whose links replay one capture.
class RecordedVm : public Vm {
 public:
  RecordedVm(const std::string& capture, MachineSpec spec)
      : spec_(std::move(spec)),
        qmp_({{"query-hotpluggable-cpus",
               LoadJsonFile(CapturedGuestDir(capture) / "query-hotpluggable-cpus.json")
                   .at("return")},
              {"query-cpus-fast",
               LoadJsonFile(CapturedGuestDir(capture) / "query-cpus-fast.json").at("return")}}),
        agent_(FakeGuestFiles::Load(CapturedGuestDir(capture))) {}

  void Launch(const Deadline&) override {}
  void SetBootHook(BootHook) override {}
  void Shutdown(Clock::duration) noexcept override {}
  void Kill() noexcept override {}
  bool Running() override { return true; }
  RecordedQmp& Qmp() override { return qmp_; }
  RecordedAgent& Agent() override { return agent_; }
  HotplugDriver& Hotplug() override { throw Error("a recording cannot plug"); }
  std::unique_ptr<Vm> MigrateTo(const std::filesystem::path&, const MigrationOptions&,
                                MigrationResult*) override {
    throw Error("a recording cannot migrate");
  }
  Clock::duration Reboot(RebootVia, const Deadline&) override {
    throw Error("a recording cannot reboot");
  }
  const MachineSpec& spec() const override { return spec_; }
  Accel accel() const override { return Accel::kTcg; }
  const std::string& accel_reason() const override { return reason_; }
  const std::filesystem::path& artifacts_dir() const override { return dir_; }
  Transcript& transcript() override { return transcript_; }
  std::string SerialTail(int) const override { return ""; }
  std::string GuestKernelDiagnosis() const override { return ""; }
  Clock::duration boot_time() const override { return {}; }
  // A capture has no console: it has ended before any line.
  ConsoleLineWait WaitForConsoleLine(const LinePattern&, const Deadline&) override {
    ConsoleLineWait none;
    none.ended = true;
    return none;
  }
  void AddContext(Error& e) override { e.AddContext("vm " + name() + ": a recording"); }

 private:
  MachineSpec spec_;
  RecordedQmp qmp_;
  RecordedAgent agent_;
  std::string reason_ = "recorded";
  std::filesystem::path dir_;
  Transcript transcript_;
};

// The capture's -smp (its README): 2,maxcpus=8,sockets=2,cores=2,threads=2.
MachineSpec CapturedSpec(int maxcpus = 8) {
  MachineSpec spec;
  spec.name = "recorded";
  spec.smp = {.cpus = 2, .maxcpus = maxcpus, .sockets = 2, .cores = 2, .threads = 2};
  return spec;
}

TEST(VmSeamTest, CheckMachineReadsBothViewsThroughTheLinksAlone) {
  RecordedVm vm("intel-2s2c2t-onlined", CapturedSpec());
  CheckResult through_seam = CheckMachine(vm, {});

  CapturedGuest captured = LoadCapturedGuest("intel-2s2c2t-onlined");
  CheckResult direct = RunChecks(captured.host, captured.guest, {.smp = CapturedSpec().smp});
  EXPECT_TRUE(through_seam.Passed()) << through_seam.Summary();
  EXPECT_EQ(through_seam.ToJson(), direct.ToJson());
  // QEMU's -smp cannot be read (not captured): the checker goes on without it.
  EXPECT_THAT(vm.Qmp().executed,
              ElementsAre("query-hotpluggable-cpus", "query-cpus-fast", "qom-get"));
}

TEST(VmSeamTest, CheckMachineComparesWithTheVmsOwnSpec) {
  // The same guest, but a Vm that says it was started with maxcpus=4.
  RecordedVm vm("intel-2s2c2t-onlined", CapturedSpec(4));
  CheckResult r = CheckMachine(vm, {});
  const InvariantResult* possible = r.Find("possible-count");
  ASSERT_NE(possible, nullptr);
  EXPECT_EQ(possible->verdict, Verdict::kFail) << r.Summary();
}

// A recording never changes: a failing check on it is not settling, so
// CheckUntilConsistent reports after three identical readings, well before
// a deadline of an hour, and says why it stopped.
TEST(VmSeamTest, AFailingCheckWhoseViewsDoNotChangeReportsBeforeItsDeadline) {
  RecordedVm vm("intel-2s2c2t-onlined", CapturedSpec(4));
  CheckResult r = CheckUntilConsistent(vm, {}, Deadline::AfterUnscaled(std::chrono::hours(1)));
  EXPECT_FALSE(r.Passed());
  EXPECT_TRUE(r.stopped_unchanged);
  EXPECT_GE(r.readings, 3);
  EXPECT_EQ(r.ToJson()["readings"], r.readings);
  // A passing check reads once, as before.
  RecordedVm good("intel-2s2c2t-onlined", CapturedSpec());
  CheckResult ok = CheckUntilConsistent(good, {}, Deadline::AfterUnscaled(std::chrono::hours(1)));
  EXPECT_TRUE(ok.Passed());
  EXPECT_EQ(ok.readings, 1);
  EXPECT_FALSE(ok.stopped_unchanged);
}

TEST(VmSeamTest, TroubleOnTheLinkCarriesTheVmsContext) {
  RecordedVm vm("intel-2s2c2t-onlined", CapturedSpec());
  vm.Qmp().broken = true;
  try {
    CheckMachine(vm, {});
    FAIL() << "CheckMachine did not throw";
  } catch (const ConnectionError& e) {
    EXPECT_THAT(e.what(), HasSubstr("QEMU closed the connection"));
    EXPECT_THAT(e.what(), HasSubstr("while checking QEMU's and the guest's CPU views"));
    EXPECT_THAT(e.what(), HasSubstr("vm recorded: a recording"));
  }
}

}  // namespace
}  // namespace cpuhp::testing
