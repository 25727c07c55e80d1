// One QEMU guest run directly by cpuhp: the process, its QMP and guest agent
// connections, its serial log and transcript. The direct-QEMU Vm (vm/vm.h);
// what only this backend has (the process, its command line, the socket
// paths) is here for the tests, the migration code and repro scripts.
//
// Guarantees: QEMU dies with cpuhp (process group + PR_SET_PDEATHSIG); the
// sockets live in a private /tmp directory that is removed on Shutdown() or
// destruction, whatever happened (and by the next run's first Launch() when
// cpuhp was SIGKILLed); the artifacts directory keeps serial.log (the guest's
// console, which QEMU sends to a socket of ours and a SerialLogPump writes, at
// most SerialLogLimits of it), transcript.log (every QMP/agent message),
// qemu.log (QEMU's own stderr) and cmdline.sh (the exact command line) for
// after-the-fact debugging. No wait after SIGKILL is longer than
// kReapAfterKillTimeout.
//
//   Machine vm(spec, artifacts / "vm0");
//   vm.Launch();                       // QEMU up, QMP negotiated, agent answering
//   vm.Qmp().Execute("query-hotpluggable-cpus");
//   vm.Shutdown();                     // quit, then SIGTERM, then SIGKILL
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "guest/agent_client.h"
#include "qmp/qmp_client.h"
#include "util/process.h"
#include "util/temp_dir.h"
#include "util/transcript.h"
#include "vm/accel_probe.h"
#include "vm/machine_spec.h"
#include "vm/serial_log.h"
#include "vm/vm.h"

namespace cpuhp {

class Machine final : public Vm {
 public:
  Machine(MachineSpec spec, std::filesystem::path artifacts_dir);
  ~Machine() override;
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // Starts QEMU, negotiates QMP, and (unless spec.incoming is set) waits for
  // the guest agent to answer. Throws LaunchError (command line, exit status,
  // qemu.log and serial tails) if QEMU dies, TimeoutError if the guest does not
  // come up before the deadline; either way nothing is left running.
  void Launch(const Deadline& boot_deadline = Deadline::After(kBootTimeout)) override;
  // Waits for the guest agent (after an incoming migration, say). Throws as Launch().
  void WaitForAgent(const Deadline& deadline);
  void SetBootHook(BootHook hook) override { boot_hook_ = std::move(hook); }

  QmpClient& Qmp() override;
  AgentClient& Agent() override;
  CpuHotplug& Hotplug() override;
  // Migrate(*this, ...) (vm/migration.h).
  std::unique_ptr<Vm> MigrateTo(const std::filesystem::path& destination_artifacts,
                                const MigrationOptions& options, MigrationResult* result) override;

  Clock::duration Reboot(RebootVia via, const Deadline& deadline) override;

  // Asks QEMU to quit; after `timeout` sends SIGTERM, then SIGKILL. Removes
  // the sockets. Never throws; safe to call twice.
  // `timeout` is scaled by CPUHP_TIMEOUT_SCALE, like every default.
  void Shutdown(Clock::duration timeout = kShutdownTimeout) noexcept override;
  // SIGKILL now (a test of failure paths, or a hung QEMU).
  void Kill() noexcept override;
  bool Running() override;
  // How QEMU ended, once it has.
  std::optional<ExitStatus> exit_status() const { return process_ ? process_->status() : std::nullopt; }
  // Waits for a QEMU that is exiting by itself to be gone; nullopt if it
  // still runs at the deadline. Sends no signal.
  std::optional<ExitStatus> WaitForExit(const Deadline& deadline);

  const MachineSpec& spec() const override { return spec_; }
  Accel accel() const override { return accel_; }
  // Why spec().accel became accel(): the KVM probe's verdict.
  const std::string& accel_reason() const override { return accel_reason_; }
  const std::vector<std::string>& command_line() const { return argv_; }
  const std::filesystem::path& artifacts_dir() const override { return artifacts_dir_; }
  const MachinePaths& paths() const { return paths_; }
  Transcript& transcript() override { return *transcript_; }
  std::string SerialTail(int lines = 30) const override;
  // "\nguest kernel in trouble: <first lockup/stall/BUG line>" and, where
  // the pattern is a known one, what it points to; "" when the console is clean.
  std::string GuestKernelDiagnosis() const override;
  // QEMU start to agent answering, once launched.
  Clock::duration boot_time() const override { return boot_time_; }
  ConsoleLineWait WaitForConsoleLine(const LinePattern& pattern, const Deadline& deadline) override;
  std::optional<pid_t> pid() const;

  // Adds "vm NAME: <state>" and the serial/qemu log tails to an error.
  void AddContext(Error& e) override;
  std::string ShutdownReason() override;

 private:
  // How many lines of each log an error's context quotes.
  static constexpr int kContextQemuLogLines = 10;
  static constexpr int kContextSerialLines = 15;

  UniqueFd AcceptFromQemu(int listen_fd, const Deadline& deadline, const char* what);
  // Kills QEMU and throws a LaunchError with its details and the context.
  [[noreturn]] void FailLaunch(const std::string& why);
  std::string QemuLogTail() const;
  // Syncs with the guest agent, retrying until the deadline; fails (and
  // kills QEMU) when QEMU exits or the guest reports an error first.
  void SyncAgentWhileBooting(const Deadline& deadline);
  // Once QEMU is gone: lets the pump write the rest of the console, so that
  // what is read from serial.log ends where the guest's output ended.
  void SettleSerialLog() const;
  std::string ConsoleForDiagnosis() const;
  void RemoveSockets() noexcept;

  MachineSpec spec_;
  std::filesystem::path artifacts_dir_;
  Accel accel_ = Accel::kTcg;
  std::string accel_reason_;
  std::optional<TempDir> socket_dir_;
  MachinePaths paths_;
  std::vector<std::string> argv_;
  std::unique_ptr<Transcript> transcript_;
  std::optional<Process> process_;
  std::unique_ptr<SerialLogPump> serial_pump_;
  std::unique_ptr<QmpClient> qmp_;
  std::unique_ptr<AgentClient> agent_;
  std::unique_ptr<CpuHotplug> hotplug_;  // over qmp_
  Clock::time_point started_;
  Clock::duration boot_time_{};
  uint64_t console_matched_ = 0;  // the line the last WaitForConsoleLine returned
  BootHook boot_hook_;
};

}  // namespace cpuhp
