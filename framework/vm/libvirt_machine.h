// The libvirt backend: one QEMU guest run by libvirtd (a private one of
// cpuhp's, vm/libvirt_daemon.h, or the daemon at spec.libvirt_uri), seen
// by the runner and the checker through the same Vm seam as Machine.
//
// What libvirt owns and what cpuhp owns:
// - libvirt: the QEMU process, its main monitor, the domain XML (<vcpu
//   current>, <vcpus> with hotpluggable, an explicit <topology>, direct kernel
//   boot) and every vCPU plug and unplug (virDomainSetVcpu, Hotplug()).
// - cpuhp: a second, query-only QMP monitor, the guest agent's virtio-serial
//   port and the serial console, each on a socket cpuhp listens on, added
//   through <qemu:commandline>. So QmpClient, AgentClient (pipelined file
//   reads), the transcript, ReadHostView and the serial pump are the very
//   ones the direct backend uses. cpuhp never sends device_add/device_del on
//   its monitor (libvirt's view would go stale).
// - The trade-off (docs/design.md): libvirt has no agent channel of its own,
//   so virDomainGetGuestVcpus/SetGuestVcpus are not available; the guest's
//   view comes from cpuhp's agent as in the direct backend.
//
// Guarantees as Vm's: the domain is started with AUTODESTROY (it dies with
// cpuhp's connection), the private daemon dies with cpuhp (PDEATHSIG and
// its PID namespace), artifacts_dir keeps serial.log, transcript.log,
// domain.xml, and libvirt/ (libvirtd.log, qemu/<domain>.log: QEMU's
// command line and stderr) when the daemon is cpuhp's.
//
//   LibvirtMachine vm(spec, artifacts / "vm0");   // spec.backend == "libvirt"
//   vm.Launch();
//   vm.Hotplug().Plug(vm.Hotplug().FreeSlots().at(0), "cpu1", deadline);  // virDomainSetVcpu
//   LibvirtView v = vm.ReadLibvirtView();          // the live XML's <vcpus> and counts
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "guest/agent_client.h"
#include "qmp/qmp_client.h"
#include "util/temp_dir.h"
#include "vm/libvirt_daemon.h"
#include "vm/libvirt_error.h"
#include "vm/libvirt_view.h"
#include "vm/serial_log.h"
#include "vm/vm.h"

namespace cpuhp {

// The domain XML for `spec` (accel already resolved), with cpuhp's QMP,
// agent and console sockets at `paths`. Throws LaunchError for what the
// libvirt backend cannot express (a disk image, a machine type with options).
std::string BuildDomainXml(const MachineSpec& spec, Accel accel, const MachinePaths& paths);

// Hotplug through libvirt: libvirt vCPU i is the i-th slot of
// query-hotpluggable-cpus sorted by (socket, die, core, thread). Plugs and
// unplugs with virDomainSetVcpu(LIVE), then waits on cpuhp's QMP monitor for
// the same ACPI events as the direct driver. libvirt names the CPUs it plugs
// "vcpuN"; the ids the runner gives are mapped to them.
class LibvirtHotplug final : public HotplugDriver {
 public:
  LibvirtHotplug(virDomainPtr domain, QmpLink& qmp, Transcript& transcript)
      : domain_(domain), qmp_(qmp), transcript_(transcript) {}
  std::vector<HotpluggableCpu> Slots() override { return QueryHotpluggableCpus(qmp_); }
  void Plug(const HotpluggableCpu& slot, const std::string& id, const Deadline& deadline) override;
  // libvirt has no raw device_add: enables the vCPU at `props` (its refusal is
  // the answer), or throws HotplugError when no slot sits there.
  void DeviceAdd(const std::string& driver, const std::string& id, const CpuProps& props,
                 const Deadline& deadline) override;
  // virDomainSetVcpu(disable). libvirt waits 5 s for DEVICE_DELETED, which
  // QEMU under TCG never sends for a vCPU: when it reports that timeout,
  // the eject is followed on QMP as usual and, if it completes, the result
  // names the disagreement (backend_disagreement) instead of failing.
  UnplugResult Unplug(const std::string& target, const Deadline& deadline) override;
  // The runner's ids of the vCPUs plugged through this driver (a migration
  // destination takes them over).
  const std::map<std::string, int>& ids() const { return ids_; }
  void AdoptIds(std::map<std::string, int> ids) { ids_ = std::move(ids); }
  // libvirt's vCPU id of the slot at `props`; nullopt when no slot is there.
  std::optional<int> VcpuIdOf(const CpuProps& props);

 private:
  void SetVcpu(int vcpu, bool enable);

  virDomainPtr domain_;
  QmpLink& qmp_;
  Transcript& transcript_;
  std::map<std::string, int> ids_;  // the runner's id -> libvirt vCPU id
};

class LibvirtMachine final : public Vm {
 public:
  LibvirtMachine(MachineSpec spec, std::filesystem::path artifacts_dir);
  ~LibvirtMachine() override;
  LibvirtMachine(const LibvirtMachine&) = delete;
  LibvirtMachine& operator=(const LibvirtMachine&) = delete;

  void Launch(const Deadline& boot_deadline = Deadline::After(kBootTimeout)) override;
  void Shutdown(Clock::duration timeout = kShutdownTimeout) noexcept override;
  void Kill() noexcept override;
  bool Running() override;

  QmpClient& Qmp() override;
  AgentClient& Agent() override;
  LibvirtHotplug& Hotplug() override;
  // Live, peer-to-peer migration to a second private libvirtd
  // (virDomainMigrateToURI3 to its qemu+unix:// URI), the destination XML
  // being the source's migratable XML with cpuhp's socket paths moved; then
  // the same cross-hop comparison of QEMU's and the guest's views as the
  // direct backend. The second daemon is the one the guest came from when
  // there is one (A -> B -> A: ping-pong between two hosts), else a new one.
  // The stream goes over a unix:// socket, or tcp://127.0.0.1 (a port the
  // destination libvirtd picks). postcopy adds VIR_MIGRATE_POSTCOPY and
  // switches (virDomainMigrateStartPostCopy) once QEMU reports "active";
  // statuses are QEMU's MIGRATION events as cpuhp's own monitor on the
  // source saw them. Faults throw MigrationError, as does a VM on a daemon
  // given by URI. probe_hotplug tries virDomainSetVcpu during the migration
  // and records libvirt's answer (and how long it took) in probes.
  // cancel_after aborts the job (virDomainAbortJob): "cancelled", nullptr,
  // the source runs on. omit_cpu_devices marks those vCPUs disabled in the
  // destination XML (libvirt must refuse it).
  std::unique_ptr<Vm> MigrateTo(const std::filesystem::path& destination_artifacts,
                                const MigrationOptions& options, MigrationResult* result) override;
  std::optional<LibvirtView> ReadBackendView() override { return ReadLibvirtView(); }
  // Plugs while the guest boots would go around libvirt (device_add on the
  // query-only monitor), and a reset behind libvirtd's back leaves its view
  // of the domain stale: neither is offered through libvirt yet.
  void SetBootHook(BootHook) override {
    throw Error("machine.boot_plugs is not available with the libvirt backend (its plugs would go around libvirt)");
  }
  Clock::duration Reboot(RebootVia, const Deadline&) override {
    throw Error("the reboot step is not available with the libvirt backend yet");
  }
  // libvirt's own view of the vCPUs: the live XML's <vcpus> and
  // virDomainGetVcpusFlags' counts. Throws LibvirtError.
  LibvirtView ReadLibvirtView();

  const MachineSpec& spec() const override { return spec_; }
  Accel accel() const override { return accel_; }
  const std::string& accel_reason() const override { return accel_reason_; }
  const std::filesystem::path& artifacts_dir() const override { return artifacts_dir_; }
  Transcript& transcript() override { return *transcript_; }
  std::string SerialTail(int lines = 30) const override;
  std::string GuestKernelDiagnosis() const override;
  ConsoleLineWait WaitForConsoleLine(const LinePattern& pattern, const Deadline& deadline) override;
  Clock::duration boot_time() const override { return boot_time_; }
  void AddContext(Error& e) override;
  // The daemon's URI (the private one's when spec.libvirt_uri is empty).
  const std::string& uri() const { return uri_; }
  virDomainPtr domain() const { return domain_.get(); }
  // The private daemon, when cpuhp started one.
  LibvirtDaemon* daemon() { return daemon_.get(); }

 private:
  static constexpr int kContextLogLines = 10;
  [[noreturn]] void FailLaunch(const std::string& why);
  // Launch() in two halves: the daemon, the connection, cpuhp's sockets ...
  void Prepare(const Deadline& deadline);
  // ... and, once the domain runs (created, or migrated in), the accepts,
  // the QMP handshake and the guest agent.
  void Connect(const Deadline& deadline);
  std::filesystem::path QemuLogPath() const;
  std::string DomainName() const;

  MachineSpec spec_;
  std::filesystem::path artifacts_dir_;
  Accel accel_ = Accel::kTcg;
  std::string accel_reason_;
  std::string uri_;
  // Shared: after a migration the destination keeps the source's daemon
  // (return_daemon_) for the next hop back; the last owner stops it.
  std::shared_ptr<LibvirtDaemon> daemon_;
  std::shared_ptr<LibvirtDaemon> return_daemon_;
  LibvirtConnect conn_;
  LibvirtDomain domain_;
  std::optional<TempDir> socket_dir_;
  MachinePaths paths_;
  UniqueFd qmp_listen_, agent_listen_, serial_listen_;
  std::string domain_name_;
  Clock::time_point started_;
  std::unique_ptr<Transcript> transcript_;
  std::unique_ptr<SerialLogPump> serial_pump_;
  std::unique_ptr<QmpClient> qmp_;
  std::unique_ptr<AgentClient> agent_;
  std::unique_ptr<LibvirtHotplug> hotplug_;
  Clock::duration boot_time_{};
  uint64_t console_matched_ = 0;
};

}  // namespace cpuhp
