#include "vm/machine.h"

#include <poll.h>

#include <csignal>
#include <fstream>
#include <mutex>

#include "util/fd.h"
#include "util/file.h"
#include "util/log.h"
#include "vm/migration.h"
#include "vm/qemu_info.h"
#include "vm/serial_log.h"

namespace cpuhp {
namespace {
constexpr char kGuestErrorMarker[] = "cpuhp-guest-error";
// A Machine going out of scope (a test's end, an exception unwinding): a
// guest with nothing left to do quits in well under a second.
constexpr seconds kTeardownShutdownTimeout{5};
// The boot already failed; what QEMU says on its way out no longer matters.
constexpr seconds kFailedBootShutdownTimeout{2};
// SIGTERM to SIGKILL.
constexpr seconds kTerminateTimeout{5};
// QEMU is gone, so the rest of its console is already in the socket: the
// pump only has to read it.
constexpr seconds kSerialSettleTimeout{2};

// The console goes to a socket of ours instead of the file chardev
// BuildCommandLine gives it (QEMU would let a guest fill the disk): the
// serial0 chardev becomes a client of `socket`.
// Private directories of cpuhp processes that were SIGKILLed (sockets and
// all), swept once per process before its first VM.
void RemoveStaleSocketDirs() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (int n = RemoveStaleTempDirs(std::filesystem::temp_directory_path(), "cpuhp-")) {
      LOG(kInfo, "vm") << "removed " << n << " private /tmp director" << (n == 1 ? "y" : "ies")
                       << " left by cpuhp runs that were killed";
    }
  });
}
}  // namespace

Machine::Machine(MachineSpec spec, std::filesystem::path artifacts_dir)
    : spec_(std::move(spec)), artifacts_dir_(std::move(artifacts_dir)) {}

Machine::~Machine() { Shutdown(kTeardownShutdownTimeout); }

QmpClient& Machine::Qmp() {
  if (!qmp_) throw Error("vm " + name() + ": not launched (no QMP connection)");
  return *qmp_;
}

AgentClient& Machine::Agent() {
  if (!agent_) throw Error("vm " + name() + ": not launched (no guest agent connection)");
  return *agent_;
}

CpuHotplug& Machine::Hotplug() {
  if (!hotplug_) throw Error("vm " + name() + ": not launched (no QMP connection)");
  return *hotplug_;
}

std::unique_ptr<Vm> Machine::MigrateTo(const std::filesystem::path& destination_artifacts,
                                       const MigrationOptions& options, MigrationResult* result) {
  return Migrate(*this, destination_artifacts, options, result);
}

std::optional<pid_t> Machine::pid() const {
  if (!process_ || process_->status()) return std::nullopt;
  return process_->pid();
}

bool Machine::Running() { return process_ && process_->Running(); }

std::optional<ExitStatus> Machine::WaitForExit(const Deadline& deadline) {
  if (!process_) return std::nullopt;
  return process_->Wait(deadline);
}

void Machine::SettleSerialLog() const {
  if (serial_pump_ && process_ && process_->status()) {
    serial_pump_->WaitForEnd(Deadline::AfterUnscaled(kSerialSettleTimeout));
  }
}

std::string Machine::ConsoleForDiagnosis() const {
  SettleSerialLog();
  return ReadConsoleForDiagnosis(paths_.serial_log);
}

std::string Machine::SerialTail(int lines) const {
  SettleSerialLog();
  return TailOfFile(paths_.serial_log, lines);
}

ConsoleLineWait Machine::WaitForConsoleLine(const LinePattern& pattern, const Deadline& deadline) {
  if (!serial_pump_) throw Error("vm " + name() + ": no console to read (not launched, or shut down)");
  ConsoleLineWait wait = serial_pump_->WaitForLine(
      console_matched_, [&](std::string_view line) { return pattern.Matches(line); }, deadline);
  if (wait.line) console_matched_ = wait.line->number;
  return wait;
}

std::string Machine::GuestKernelDiagnosis() const {
  std::error_code absent;
  if (!std::filesystem::exists(paths_.serial_log, absent)) return "";  // QEMU never started
  const std::string console = ConsoleForDiagnosis();
  auto distress = FindKernelDistress(console);
  if (!distress) return "";
  std::string out = "\nguest kernel in trouble: " + *distress;
  if (accel_ == Accel::kTcg && spec_.smp.MaxCpus() <= 8 && LooksLikeStopMachineStall(console)) {
    out +=
        "\n  (a stall in stop_machine under TCG with <= 8 possible CPUs: QEMU 7.2's TCG loses IPIs "
        "to hot-added CPUs while the guest's APIC is in flat logical mode; see docs/known-issues.md)";
  }
  return out;
}

std::string Machine::QemuLogTail() const {
  return TailOfFile(artifacts_dir_ / "qemu.log", kContextQemuLogLines);
}

std::string Machine::ShutdownReason() { return qmp_ ? qmp_->LastWordsAfterClose() : ""; }

void Machine::AddContext(Error& e) {
  std::string state;
  if (!process_) {
    state = "not started";
  } else if (process_->Running()) {
    state = "running, pid " + std::to_string(process_->pid());
  } else {
    state = "QEMU exited: " + process_->status()->Describe();
  }
  std::string ctx = "vm " + name() + " (" + state + "), artifacts in " + artifacts_dir_.string();
  std::string qemu_log = QemuLogTail();
  if (!qemu_log.empty()) ctx += "\nqemu.log (last lines):\n" + qemu_log;
  std::string serial = SerialTail(kContextSerialLines);
  if (!serial.empty()) ctx += "\nserial.log (last lines):\n" + serial;
  ctx += GuestKernelDiagnosis();
  e.AddContext(ctx);
}

void Machine::FailLaunch(const std::string& why) {
  // Whichever socket saw QEMU's end first (the agent's, often), its
  // SHUTDOWN reason is the cause.
  std::string message = WithShutdownReason(why, ShutdownReason());
  if (process_ && process_->Running()) process_->SignalGroup(SIGKILL);
  if (process_) process_->WaitAfterKill();
  LaunchError e("vm " + name() + ": " + message + "\n  command: " + ShellQuote(argv_),
                {.command = argv_,
                 .exit_status = exit_status(),
                 .qemu_log_tail = QemuLogTail(),
                 .serial_tail = SerialTail(kContextSerialLines)});
  AddContext(e);
  hotplug_.reset();
  qmp_.reset();
  agent_.reset();
  RemoveSockets();
  throw e;
}

UniqueFd Machine::AcceptFromQemu(int listen_fd, const Deadline& deadline, const char* what) {
  // QEMU connects while it starts; if it dies first, say so rather than wait out the deadline.
  UniqueFd fd = cpuhp::AcceptFromQemu(listen_fd, *process_, deadline);
  if (fd) return fd;
  if (process_->status()) FailLaunch(std::string("QEMU exited before connecting its ") + what + " socket");
  FailLaunch(std::string("QEMU did not connect its ") + what + " socket in time");
}

void Machine::Launch(const Deadline& boot_deadline) {
  if (process_) throw Error("vm " + name() + ": already launched");
  RemoveStaleSocketDirs();
  AccelChoice accel = ResolveAccel(spec_.accel, spec_.qemu_binary);
  accel_ = accel.accel;
  accel_reason_ = accel.reason;
  MakeDirs(artifacts_dir_);
  // UNIX socket paths are limited to 107 bytes, artifact paths are not: the
  // sockets get a short private directory of their own.
  socket_dir_.emplace(std::filesystem::temp_directory_path(), "cpuhp-");
  paths_ = {socket_dir_->path() / "qmp.sock", socket_dir_->path() / "qga.sock",
            artifacts_dir_ / "serial.log", socket_dir_->path() / "console.sock"};
  transcript_ = std::make_unique<Transcript>(artifacts_dir_ / "transcript.log");
  UniqueFd qmp_listen = ListenUnix(paths_.qmp_socket);
  UniqueFd agent_listen = ListenUnix(paths_.agent_socket);
  UniqueFd serial_listen = ListenUnix(paths_.serial_socket);
  argv_ = BuildCommandLine(spec_, accel_, paths_);
  {
    std::ofstream cmd(artifacts_dir_ / "cmdline.sh");
    cmd << "#!/bin/sh\n# accel " << AccelName(spec_.accel) << " resolved to " << AccelName(accel_)
        << ": " << accel_reason_ << "\n" << ShellQuote(argv_) << "\n";
  }
  transcript_->Record("vm", Transcript::Direction::kNote, "launch: " + ShellQuote(argv_));
  LOG(kInfo, "vm") << name() << ": starting QEMU (" << AccelName(accel_) << ", -smp "
                   << spec_.smp.ToQemuArg() << ")";
  started_ = Clock::now();
  process_.emplace(Process::Spawn({.argv = argv_, .output = artifacts_dir_ / "qemu.log"}));

  qmp_ = std::make_unique<QmpClient>(AcceptFromQemu(qmp_listen.get(), boot_deadline, "QMP"),
                                     "qmp", transcript_.get());
  hotplug_ = std::make_unique<CpuHotplug>(*qmp_);
  serial_pump_ = std::make_unique<SerialLogPump>(
      AcceptFromQemu(serial_listen.get(), boot_deadline, "serial console"), paths_.serial_log);
  agent_ = std::make_unique<AgentClient>(
      AcceptFromQemu(agent_listen.get(), boot_deadline, "guest agent"), "qga", transcript_.get());
  try {
    qmp_->Handshake(boot_deadline);
  } catch (Error& e) {
    FailLaunch(std::string("QMP handshake failed: ") + e.what());
  }
  if (boot_hook_ && !spec_.incoming) {
    try {
      boot_hook_(*this, boot_deadline);
    } catch (Error& e) {
      FailLaunch(std::string("while the guest booted: ") + e.what());
    }
  }
  if (!spec_.incoming) WaitForAgent(boot_deadline);
}

void Machine::WaitForAgent(const Deadline& deadline) {
  SyncAgentWhileBooting(deadline);
  boot_time_ = Clock::now() - started_;
  LOG(kInfo, "vm") << name() << ": guest agent answered after " << FormatDuration(boot_time_);
}

Clock::duration Machine::Reboot(RebootVia via, const Deadline& deadline) {
  // BuildCommandLine's -no-reboot makes every reset (system_reset included)
  // end QEMU, so that a panicking guest stops; for this reset only QEMU
  // must reset instead (set-action, QEMU 6.0+), and -no-reboot's action
  // comes back afterwards whatever happened.
  Qmp().Execute("set-action", {{"reboot", "reset"}}, deadline);
  struct RestoreRebootAction {
    Machine& m;
    ~RestoreRebootAction() {
      try {
        if (m.qmp_ && m.Running()) {
          m.qmp_->Execute("set-action", {{"reboot", "shutdown"}}, Deadline::After(kQmpTimeout));
        }
      } catch (const Error& e) {
        LOG(kWarning, "vm") << m.name() << ": could not restore -no-reboot's action: " << e.what();
      }
    }
  } restore{*this};
  transcript_->Record("vm", Transcript::Direction::kNote,
                      via == RebootVia::kGuest ? "reboot: the guest reboots itself"
                                               : "reboot: system_reset");
  // A reboot through SeaBIOS resets the machine several times within a
  // fraction of a second (seen: four RESET events): leftovers of an earlier
  // reboot must not be taken for this one's.
  Qmp().PollEvents();
  while (Qmp().TryWaitForEvent("RESET", nullptr, Deadline::AfterUnscaled(Clock::duration::zero()))) {
  }
  const Clock::time_point start = Clock::now();
  if (via == RebootVia::kSystemReset) {
    Qmp().Execute("system_reset", nullptr, deadline);
  } else {
    // -f: reboot(2) at once. /init is PID 1 and no init system, so a plain
    // reboot would signal a shell that does not handle it.
    try {
      Agent().Execute("guest-exec", {{"path", "/sbin/reboot"}, {"arg", {"-f"}}},
                      Deadline::After(kAgentTimeout).Min(deadline));
    } catch (const TimeoutError&) {
      // The guest may reset before the agent's reply leaves it: the RESET
      // event below is what counts.
    }
  }
  Qmp().WaitForEvent("RESET", nullptr, deadline);
  SyncAgentWhileBooting(deadline);
  const Clock::duration took = Clock::now() - start;
  LOG(kInfo, "vm") << name() << ": rebooted; guest agent answered after " << FormatDuration(took);
  return took;
}

void Machine::SyncAgentWhileBooting(const Deadline& deadline) {
  for (;;) {
    try {
      Agent().Sync(Deadline::After(kAgentSyncTimeout).Min(deadline));
      return;
    } catch (const TimeoutError&) {
      if (!process_->Running()) {
        FailLaunch("QEMU exited while the guest was booting: " +
                   ExplainBootFailure(ConsoleForDiagnosis()));
      }
      if (SerialTail(50).find(kGuestErrorMarker) != std::string::npos) {
        FailLaunch(ExplainBootFailure(ConsoleForDiagnosis()));
      }
      if (deadline.Expired()) {
        TimeoutError e("vm " + name() + ": the guest agent did not answer within the boot deadline: " +
                       ExplainBootFailure(ConsoleForDiagnosis()));
        AddContext(e);
        Shutdown(kFailedBootShutdownTimeout);
        throw e;
      }
    } catch (const ConnectionError& e) {
      process_->Wait(Deadline::After(kShutdownTimeout));
      FailLaunch(std::string("guest agent connection lost: ") + e.what());
    }
  }
}

void Machine::Shutdown(Clock::duration timeout) noexcept {
  try {
    if (process_ && process_->Running()) {
      if (qmp_) {
        try {
          qmp_->Execute("quit", nullptr, Deadline::After(timeout));
        } catch (const Error& e) {
          // QEMU may close the socket before replying: that is a successful quit.
          LOG(kDebug, "vm") << name() << ": quit: " << e.what();
        }
      }
      if (!process_->Wait(Deadline::After(timeout))) {
        LOG(kWarning, "vm") << name() << ": QEMU ignored quit, sending SIGTERM";
        process_->Terminate(kTerminateTimeout);
      }
      const std::string ended = process_->status() ? process_->status()->Describe()
                                                   : "still there after SIGKILL, left unreaped";
      LOG(kInfo, "vm") << name() << ": QEMU ended (" << ended << ")";
      if (transcript_) transcript_->Record("vm", Transcript::Direction::kNote, "QEMU ended: " + ended);
    }
  } catch (...) {
  }
  Kill();
}

void Machine::Kill() noexcept {
  if (process_) {
    try {
      process_->SignalGroup(SIGKILL);
      process_->WaitAfterKill();
    } catch (...) {
    }
  }
  serial_pump_.reset();  // after QEMU, so that it has all of the console
  hotplug_.reset();
  qmp_.reset();
  agent_.reset();
  RemoveSockets();
}

void Machine::RemoveSockets() noexcept { socket_dir_.reset(); }

}  // namespace cpuhp
