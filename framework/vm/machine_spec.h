// What to boot: a value type describing one QEMU guest, and the QEMU command
// line it becomes.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "vm/cpu_props.h"

namespace cpuhp {

enum class Accel { kAuto, kKvm, kTcg };
const char* AccelName(Accel accel);
// "auto" | "kvm" | "tcg"; false on anything else.
bool ParseAccel(std::string_view text, Accel* accel);
// What kAuto becomes on this host: vm/accel_probe.h (ResolveAccel).

// -smp. Zero means "unset": QEMU derives it (7.2 prefers cores over sockets).
struct SmpTopology {
  int cpus = 1;
  int maxcpus = 0;  // 0: same as cpus
  int sockets = 0;
  int dies = 0;
  int cores = 0;
  int threads = 0;

  int MaxCpus() const { return maxcpus > 0 ? maxcpus : cpus; }
  // "1,maxcpus=4,sockets=4,cores=1,threads=1"
  std::string ToQemuArg() const;
  // An error message if the numbers cannot describe a machine, else "".
  std::string Validate() const;
  bool operator==(const SmpTopology&) const = default;
};

// A -smp topology with every level filled in, as QEMU 7.2 resolves it.
struct ResolvedTopology : TopologyShape {
  int cpus = 1;
  int maxcpus = 1;
};

// Fills in what -smp leaves out as QEMU 7.2 does for q35/pc (cores are
// preferred over sockets), then checks it. Returns nullopt and sets *error
// ("sockets*dies*cores*threads = 6 but maxcpus is 4") if QEMU would refuse it.
std::optional<ResolvedTopology> ResolveTopology(const SmpTopology& smp, std::string* error);

// A CPU device given on the command line (-device): how a migration
// destination recreates the CPUs that were hot-plugged on the source.
struct CpuDevice {
  std::string driver;
  std::string id;
  CpuProps props;
  bool operator==(const CpuDevice&) const = default;
};

struct MachineSpec {
  std::string name = "vm";
  std::string qemu_binary = "qemu-system-x86_64";
  std::string machine_type = "q35";
  Accel accel = Accel::kAuto;
  std::string cpu_model = "qemu64";
  SmpTopology smp;
  int memory_mib = 512;
  // Direct boot (the guest kit) ...
  std::filesystem::path kernel;
  std::filesystem::path initrd;
  std::string append;
  // ... or a disk image whose OS runs qemu-ga (opened with snapshot=on: never modified).
  std::filesystem::path disk;
  std::vector<CpuDevice> cpu_devices;
  // "defer" for a migration destination.
  std::optional<std::string> incoming;
  std::vector<std::string> extra_args;
  // Who runs QEMU: "qemu" (cpuhp itself, vm/machine.h) or "libvirt"
  // (vm/libvirt_machine.h) ...
  std::string backend = "qemu";
  // ... through this libvirt URI; empty: a private libvirtd of cpuhp's own.
  std::string libvirt_uri = {};
};

// Paths of the sockets and logs a command line refers to.
struct MachinePaths {
  std::filesystem::path qmp_socket;
  std::filesystem::path agent_socket;
  std::filesystem::path serial_log;
  // When set, the console goes to this socket (cpuhp listens and writes
  // serial_log itself, bounded); else QEMU writes serial_log as a file.
  std::filesystem::path serial_socket = {};
};

// Who listens on the QMP and agent sockets.
enum class SocketMode {
  // QEMU connects to sockets cpuhp listens on: no race with QEMU creating them.
  kQemuConnects,
  // QEMU listens (server=on,wait=off): for standalone repro scripts driven by socat.
  kQemuListens,
};

// The full argv for `spec` with `accel` already resolved.
std::vector<std::string> BuildCommandLine(const MachineSpec& spec, Accel accel,
                                          const MachinePaths& paths,
                                          SocketMode mode = SocketMode::kQemuConnects);

// The argv quoted for a POSIX shell, one string.
// Makes the guest take QEMU for another hypervisor, for guests that treat
// an unknown one as bare metal. "vmware": vmport on, the CPUID hypervisor
// bit off and a VMware DMI serial, so Linux 6.12 detects VMware and counts
// QEMU's disabled MADT LAPICs as hot-pluggable (docs/known-issues.md). It
// changes the guest's paravirt paths, so it shows in the spec (machine type,
// CPU model, extra args) and the run's label, never silently. Returns false
// for a name it does not know ("none" changes nothing).
bool ApplyMasquerade(std::string_view masquerade, MachineSpec& spec);
inline constexpr const char* kMasquerades[] = {"none", "vmware"};

// A guest NUMA layout: `nodes` nodes sharing the memory evenly (the first
// takes the remainder), and which node each slot pattern goes to.
struct NumaCpu {
  int node = 0;
  CpuProps props;  // socket/die/core/thread: the slots that match
};
// The -object/-numa arguments for it (memory-backend-ram per node, -numa node,
// -numa cpu): extra_args, so that migration destinations, spec.json and repro
// scripts carry them as they are. An error message when the layout cannot
// work (no nodes, a node out of range, less than 1 MiB a node), else "".
std::string NumaArgs(int nodes, const std::vector<NumaCpu>& cpus, int memory_mib,
                     std::vector<std::string>* args);

std::string ShellQuote(const std::vector<std::string>& argv);
std::string ShellQuote(const std::string& word);

}  // namespace cpuhp
