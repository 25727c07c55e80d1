// Which accelerator this host can really run a guest with.
//
// /dev/kvm that opens and answers KVM_GET_API_VERSION is not proof: on hosts
// with half-working nested virtualization KVM creates VMs whose vCPUs never
// take an interrupt (SeaBIOS halts in real mode, the serial log stays empty).
// The probe boots a 64 KiB firmware of its own under the accelerator: it
// prints "R" on COM1 from real mode, passes through protected mode to reach
// the local APIC (as SeaBIOS and every kernel must), prints "B", programs the
// APIC, the PIC and the PIT, halts, and prints "T" from the timer interrupt.
// Only a "T" proves the accelerator runs a guest the way a kernel needs
// (mode switches, MMIO, port I/O, a timer interrupt out of HLT). On a working
// KVM host that costs QEMU's start-up plus one 1 ms timer tick.
//
//   AccelChoice c = ResolveAccel(Accel::kAuto, "qemu-system-x86_64");
//   // c.accel == kTcg, c.reason == "/dev/kvm opens but a KVM guest ..."
//
// Results are cached per QEMU binary, in memory for the process and on disk
// (CacheDir()/kvm-probe-*.json) under a key that a reboot, a reloaded kvm
// module or another QEMU binary changes; `cpuhp doctor` always probes anew.
#pragma once

#include <optional>
#include <string>

#include "util/deadline.h"
#include "util/process.h"
#include "vm/machine_spec.h"

namespace cpuhp {

// How long a probe guest may take to show its timer interrupt. Not scaled by
// CPUHP_TIMEOUT_SCALE: a working KVM guest needs milliseconds, and a broken
// host must not cost every run the whole scaled wait.
inline constexpr seconds kAccelProbeTimeout{5};

// What opening /dev/kvm said.
struct KvmDevice {
  int open_errno = 0;   // 0: opened read-write
  int api_version = 0;  // KVM_GET_API_VERSION when opened
};
KvmDevice OpenKvmDevice();

// What a probe guest did.
struct ProbeObservation {
  bool spawned = true;          // false: QEMU could not be executed
  std::string spawn_error;      // why not
  std::string console;          // what the probe firmware printed (bounded)
  std::optional<ExitStatus> exited;  // QEMU ended on its own before the deadline
  std::string qemu_log;         // its last lines, when it exited
  Clock::duration elapsed{};
};

struct ProbeVerdict {
  bool usable = false;
  std::string reason;  // why not, or what proved it ("a KVM guest took its timer interrupt in 45 ms")
};

// The decision, apart from any I/O, for unit tests. `observation` is absent
// when the device check already failed and no guest was started.
ProbeVerdict DecideKvm(const KvmDevice& device, const std::optional<ProbeObservation>& observation,
                       Clock::duration timeout = kAccelProbeTimeout);
// The same for a TCG probe guest (doctor's TCG line).
ProbeVerdict DecideTcg(const ProbeObservation& observation, Clock::duration timeout);

// Boots the probe firmware under `accel` (kKvm or kTcg) with `qemu_binary`
// and reports what it did. Leaves no process or file behind.
ProbeObservation RunProbeGuest(const std::string& qemu_binary, Accel accel,
                               Clock::duration timeout);

struct KvmProbeResult {
  ProbeVerdict verdict;
  Clock::duration took{};  // of the probe itself (0 when cached)
  bool cached = false;     // answered from the memory or disk cache
};
// Probes KVM for `qemu_binary`, from the caches where they are valid.
// `fresh` skips the caches (and refreshes them).
KvmProbeResult ProbeKvm(const std::string& qemu_binary, bool fresh = false);

// The accelerator a spec's `accel` becomes, and why.
struct AccelChoice {
  Accel accel = Accel::kTcg;
  std::string reason;
};
// kTcg stays kTcg. kAuto becomes kKvm only when the probe passes, else kTcg
// with one warning line (once per process and binary) saying why. kKvm on a
// host where the probe fails throws LaunchError with the probe's reason.
AccelChoice ResolveAccel(Accel requested, const std::string& qemu_binary);

// `binary` found on PATH when it has no '/', made canonical; itself when
// neither works (the caller's spawn then says what is wrong).
std::string CanonicalOrSelf(const std::string& binary);

// $CPUHP_CACHE_DIR, else $XDG_CACHE_HOME/cpuhp, else ~/.cache/cpuhp.
std::filesystem::path CacheDir();

}  // namespace cpuhp
