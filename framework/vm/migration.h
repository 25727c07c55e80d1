// Live migration of a direct-QEMU guest with hot-plugged vCPUs: what
// Machine::MigrateTo() (the Vm seam's migration, vm/vm.h) does.
//
// A hot-plugged vCPU survives migration only if the destination QEMU is
// started with the same -smp and one -device per CPU plugged at that moment
// (same driver, id and socket/die/core/thread): QEMU migrates device *state*,
// not devices. Migrate() derives that command line from what the source's QMP
// says now (query-hotpluggable-cpus, query-cpus-fast), never from a
// scenario's history, starts the destination with -incoming defer, migrates,
// checks that QEMU's and the guest's views of the vCPUs are the same on both
// sides, and retires the source. docs/migration.md tells the whole story.
//
//   MigrationResult r;
//   std::unique_ptr<Machine> dst = Migrate(vm, artifacts / "vm0-mig1", {}, &r);
//   // dst runs the guest, its agent answers; vm has quit.
//   std::cout << *r.total_time_ms << " ms, downtime " << *r.downtime_ms << " ms\n";
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "guest/cpu_snapshot.h"
#include "vm/cpu_hotplug.h"
#include "vm/host_view.h"
#include "vm/machine.h"

namespace cpuhp {

struct MigrationOptions {
  enum class Transport { kUnix, kTcp };
  // kUnix: a socket in a private /tmp directory; kTcp: 127.0.0.1, a port the
  // destination picks (tcp:127.0.0.1:0) and reports through query-migrate.
  Transport transport = Transport::kUnix;
  // migrate-set-parameters; unset means QEMU's default (taken from the fresh
  // destination, so that a value left on the source by an earlier migration
  // does not leak into this one). Set before `migrate`: QEMU 7.2 reports
  // total-time and downtime as 0 when max-bandwidth changes mid-migration.
  std::optional<uint64_t> max_bandwidth;  // bytes/s
  std::optional<uint64_t> downtime_limit_ms;
  // postcopy-ram on both sides, and migrate-start-postcopy as soon as the
  // source is active. Throws MigrationError if the host cannot (userfaultfd).
  bool postcopy = false;
  // Issue migrate_cancel this long after `migrate`; the source must keep
  // running. If the migration completes first, the result says "completed":
  // the caller checks MigrationResult::status.
  std::optional<std::chrono::milliseconds> cancel_after;
  // Wrong on purpose: leave these CPU device ids out of the destination's -device list.
  std::vector<std::string> omit_cpu_devices;
  Clock::duration timeout = kMigrationTimeout;

  // The return path lets the destination tell the source that it could not
  // load the stream. Without it QEMU 7.2's source reports "completed" for a
  // stream the destination rejected (and is then paused for good); Migrate()
  // still fails then, because the destination never runs.
  bool return_path = true;
  // Compare QEMU's view (query-hotpluggable-cpus, query-cpus-fast) and the
  // guest's (masks, per-CPU online/topology/hotplug state, hotplug/states,
  // guest-get-vcpus) across the hop; any difference throws
  // MigrationCheckFailure. Also checks an unchanged source after a cancel.
  bool verify = true;
  // While the migration is active, try device_add (a free slot) and
  // device_del (a hot-plugged CPU) on the source and record QEMU's answers in
  // MigrationResult::probes. QEMU 7.2 refuses both.
  bool probe_hotplug = false;

  // Test hooks: make one side die mid-migration, `fault_after` after the
  // source reported "active".
  enum class Fault { kNone, kKillDestination, kKillSource };
  Fault fault = Fault::kNone;
  std::chrono::milliseconds fault_after{0};
  // Called once when the source reports "active" (after the probes).
  std::function<void(Machine& source, Machine& destination)> on_active;
};

// What QEMU answered to one command sent while the migration was active.
struct QmpProbe {
  std::string command;  // "device_add" | "device_del"
  nlohmann::json arguments;
  bool accepted = false;
  std::string error_class;  // when refused
  std::string desc;
};

struct MigrationResult {
  std::string status;  // "completed", "cancelled", "failed"
  // `migrate` to the destination running with its agent answering (or to the
  // end state for a cancelled/failed migration).
  Clock::duration wall_time{};
  std::optional<int64_t> total_time_ms;  // from query-migrate
  std::optional<int64_t> downtime_ms;
  nlohmann::json query_migrate;          // the last query-migrate reply
  std::vector<std::string> destination_args;  // the destination's command line

  std::string destination_name;
  std::string uri;                    // "unix:/tmp/cpuhp-mig-XXXX/migrate.sock", "tcp:127.0.0.1:N"
  std::vector<std::string> statuses;  // the source's MIGRATION events, in order
  std::vector<QmpProbe> probes;
  // The source's view (read right after it completed, i.e. just before the
  // switch) and the destination's, and what differs between the two sides
  // (empty when they agree, or when options.verify is off).
  std::optional<HostView> source_view;
  std::optional<HostView> destination_view;
  std::vector<std::string> differences;

  nlohmann::json ToJson() const;
};

// The -device list that recreates the source's hot-plugged CPUs: one per
// plugged slot whose CPU sits under /machine/peripheral/<id>, with the slot's
// driver and props, in the order QEMU lists them in query-cpus-fast (the
// order they were plugged), omitting `omit`. Boot CPUs come from -smp.
// Throws MigrationError when the source cannot be expressed on a command line
// (a CPU plugged without an id, a boot CPU unplugged) or `omit` names a CPU
// that is not plugged.
std::vector<CpuDevice> PluggedCpuDevices(const HostView& source, const SmpTopology& smp,
                                         const std::vector<std::string>& omit = {});

// Pure: the destination's spec from the source's spec and view: same machine,
// -smp, memory, kernel or disk, accel; a new name; -incoming defer; the CPU
// devices of PluggedCpuDevices().
MachineSpec DestinationSpecFrom(const MachineSpec& source_spec, const HostView& source_view,
                                const std::string& destination_name,
                                const MigrationOptions& options);

// The destination's spec, derived from the source's *current* state
// (query-hotpluggable-cpus), not from history: same machine, -smp and one
// -device per hot-plugged CPU with the same driver, id and props.
MachineSpec DestinationSpec(Vm& source, const std::string& destination_name,
                            const MigrationOptions& options);

// What differs between two views of QEMU's vCPUs (slots by props; CPUs by
// cpu-index: qom-path and props; host thread ids are ignored). Empty: equal.
std::vector<std::string> CompareHostViews(const HostView& before, const HostView& after);
// What differs between two guest snapshots: masks, kernel_max, the cpuN
// directories (online, topology, APIC id, hotplug state/target),
// hotplug/states, /proc/cpuinfo count, guest-get-vcpus. Empty: equal.
std::vector<std::string> CompareGuestSnapshots(const GuestSnapshot& before,
                                               const GuestSnapshot& after);

// Migrates `source` to a new QEMU. On "completed" the destination is returned
// running with its agent synced and the source is shut down; on "cancelled"
// nullptr is returned and the source keeps running. Throws MigrationError
// (the source still running and usable where QEMU allows) on failure, and
// MigrationCheckFailure when the two sides disagree. The destination's
// artifacts (serial.log, transcript.log, qemu.log, cmdline.sh) go to
// `destination_artifacts`, whose last component names it. Waits at most
// options.timeout (scaled); never leaves a QEMU behind on failure, except the
// source, which stays the caller's.
std::unique_ptr<Machine> Migrate(Machine& source, const std::filesystem::path& destination_artifacts,
                                 const MigrationOptions& options, MigrationResult* result);

class MigrationError : public Error {
 public:
  using Error::Error;
  FailureKind kind() const override { return FailureKind::kMigration; }
};

// The migration completed but QEMU's or the guest's view of the vCPUs
// differs between the two sides (or the source changed across a cancel).
class MigrationCheckFailure : public CheckFailure {
 public:
  MigrationCheckFailure(std::string message, std::vector<std::string> differences)
      : CheckFailure(std::move(message)), differences_(std::move(differences)) {}
  const std::vector<std::string>& differences() const { return differences_; }

 private:
  std::vector<std::string> differences_;
};

}  // namespace cpuhp
