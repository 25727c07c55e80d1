// What a running VM is to the runner, the checker and the guest probes: the
// seam between cpuhp and a backend that runs QEMU.
//
// Today's backend is direct QEMU (vm/machine.h, Machine: cpuhp spawns QEMU
// and owns its sockets). A libvirt backend (docs/design.md, "Backends") is a
// second implementation of this interface, chosen in MakeVm(), not a branch
// in the runner. Every backend guarantees:
// - Launch() returns with QMP usable and (unless the spec is an incoming
//   migration) the guest agent answering, or throws LaunchError/TimeoutError
//   with nothing left running; Shutdown() and the destructor never leave a
//   QEMU behind, whatever happened, and never throw;
// - Qmp(), Agent() and Hotplug() stay valid from Launch() until Shutdown(),
//   and throw Error before Launch();
// - artifacts_dir() keeps serial.log and transcript.log (every QMP and agent
//   message) after the VM is gone, and AddContext() names the VM, its state
//   and the log tails in an error.
//
//   std::unique_ptr<Vm> vm = MakeVm(spec, artifacts / "vm0");
//   vm->Launch(Deadline::After(kBootTimeout));
//   vm->Hotplug().Plug(vm->Hotplug().FreeSlots().at(0), "cpu1", deadline);
//   CheckResult r = CheckUntilConsistent(*vm, {}, deadline);
//   vm = vm->MigrateTo(artifacts / "migration-1", {}, &result);   // nullptr: cancelled
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "guest/agent_link.h"
#include "qmp/qmp_link.h"
#include "util/deadline.h"
#include "util/line_pattern.h"
#include "util/transcript.h"
#include "vm/accel_probe.h"
#include "vm/cpu_hotplug.h"
#include "vm/libvirt_view.h"
#include "vm/machine_spec.h"
#include "vm/serial_log.h"

namespace cpuhp {

struct MigrationOptions;
struct MigrationResult;
class Vm;

// What runs during Launch() once QMP answers and before the guest agent
// does: the guest is booting (firmware, kernel) meanwhile. It may plug CPUs,
// stop and cont the VM; it must return by the deadline (the boot's).
using BootHook = std::function<void(Vm& vm, const Deadline& boot_deadline)>;

// How Vm::Reboot restarts the guest.
enum class RebootVia {
  kGuest,        // the guest reboots itself: reboot(2), through the agent
  kSystemReset,  // QMP system_reset: a hard reset from the host
};

class Vm {
 public:
  virtual ~Vm() = default;

  // Starts the guest. Throws LaunchError (what the backend knows about why)
  // or TimeoutError; either way nothing is left running.
  virtual void Launch(const Deadline& boot_deadline = Deadline::After(kBootTimeout)) = 0;
  // Set before Launch(): what to do while the guest boots (BootHook).
  virtual void SetBootHook(BootHook hook) = 0;
  // Asks the guest's QEMU to quit, then forces it after `timeout` (scaled by
  // CPUHP_TIMEOUT_SCALE). Never throws; safe to call twice.
  virtual void Shutdown(Clock::duration timeout = kShutdownTimeout) noexcept = 0;
  // Ends QEMU now (a hung guest, a test of failure paths).
  virtual void Kill() noexcept = 0;
  virtual bool Running() = 0;

  virtual QmpLink& Qmp() = 0;
  virtual AgentLink& Agent() = 0;
  // Plugs and unplugs vCPUs the backend's way.
  virtual HotplugDriver& Hotplug() = 0;

  // Live-migrates the guest to a new VM of the same backend whose artifacts
  // go to `destination_artifacts` (its last component names it). On
  // "completed" the destination is returned running with its agent answering
  // and this VM is shut down; on "cancelled" nullptr is returned and this VM
  // keeps running. Throws MigrationError / MigrationCheckFailure (vm/migration.h).
  virtual std::unique_ptr<Vm> MigrateTo(const std::filesystem::path& destination_artifacts,
                                        const MigrationOptions& options,
                                        MigrationResult* result) = 0;

  // Restarts the guest in the same QEMU (its plugged CPUs stay, as on real
  // hardware) and waits until the guest agent answers again; returns the
  // time from the request to that answer. The guest's processes are gone
  // afterwards. Throws TimeoutError, LaunchError (QEMU exited instead of
  // resetting), QmpError/AgentError (the request was refused).
  virtual Clock::duration Reboot(RebootVia via, const Deadline& deadline) = 0;

  virtual const MachineSpec& spec() const = 0;
  const std::string& name() const { return spec().name; }
  virtual Accel accel() const = 0;
  // Why spec().accel became accel(): the KVM probe's verdict.
  virtual const std::string& accel_reason() const = 0;
  virtual const std::filesystem::path& artifacts_dir() const = 0;
  virtual Transcript& transcript() = 0;
  // The last `lines` lines of the guest's console.
  virtual std::string SerialTail(int lines = 30) const = 0;
  // "\nguest kernel in trouble: <first lockup/stall/BUG line>" and, where
  // the pattern is a known one, what it points to; "" when the console is clean.
  virtual std::string GuestKernelDiagnosis() const = 0;
  // Waits for the guest's console to print a line that `pattern` matches,
  // reading the console in order: only lines after the one the previous
  // successful wait returned count (the first wait reads from the start of
  // the boot). Returns what the wait found: no `line` when the deadline
  // passed or the console ended first. Throws Error before Launch() and
  // after Shutdown().
  virtual ConsoleLineWait WaitForConsoleLine(const LinePattern& pattern, const Deadline& deadline) = 0;
  // Start to agent answering, once launched.
  virtual Clock::duration boot_time() const = 0;
  // Adds "vm NAME: <state>" and the backend's log tails to an error.
  virtual void AddContext(Error& e) = 0;
  // Why QEMU is ending or ended on its own (a guest reset, a panic), from
  // its SHUTDOWN event, once it has sent one; "" otherwise. Never waits. A
  // lost connection says nothing of its cause; this does.
  virtual std::string ShutdownReason() { return ""; }
  // The backend's own bookkeeping of the vCPUs, where it keeps one (libvirt:
  // the live XML's <vcpus> and its counts), for the checker's third view;
  // nullopt for direct QEMU. Throws the backend's typed error.
  virtual std::optional<LibvirtView> ReadBackendView() { return std::nullopt; }
};

// `message`, then "; " and Vm::ShutdownReason()'s `reason` unless that is
// empty or already said.
std::string WithShutdownReason(const std::string& message, const std::string& reason);

// A VM for `spec`, not yet launched, of the backend that runs it
// (spec.backend: "qemu" is Machine, "libvirt" LibvirtMachine). Its artifacts
// go to `artifacts_dir`. Throws Error for a backend this build lacks.
std::unique_ptr<Vm> MakeVm(MachineSpec spec, std::filesystem::path artifacts_dir);
// Whether this build has `backend` ("qemu" always, "libvirt" with CPUHP_WITH_LIBVIRT).
bool BackendBuilt(std::string_view backend);
// Why `backend` cannot run VMs on this host ("not in this build", "libvirtd
// not found", ...), or "" when it can.
std::string BackendUnavailableReason(std::string_view backend);

}  // namespace cpuhp
