// A scenario: the machine to boot and the steps to run against it, as the
// YAML files in scenarios/ describe them (docs/scenarios.md has every key).
//
// A scenario file with a `matrix` expands into several ScenarioRuns, one per
// combination; each run is complete and independent (its own VM, its own
// artifacts directory).
//
//   for (ScenarioRun& run : LoadScenarioRuns("scenarios/smoke.yaml")) ...
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "guest/cpuset.h"
#include "scenario/boot_plugs.h"
#include "scenario/known_bug.h"
#include "scenario/scenario_error.h"
#include "util/deadline.h"
#include "util/line_pattern.h"
#include "vm/boot_template.h"
#include "vm/cpu_props.h"
#include "vm/machine_spec.h"
#include "vm/migration.h"
#include "vm/vm.h"

namespace cpuhp {

struct Step;

// hotplug: by count (the lowest free slots first), or one CPU at explicit props.
struct HotplugStep {
  int count = 1;                  // used when props is unset; `count: max` resolves at run time
  bool max = false;               // every free slot
  std::optional<CpuProps> props;  // explicit socket/die/core/thread
  std::optional<std::string> id;  // device id; default derived from the slot ("cpu-s1c0t0")
  bool online = false;            // online the new guest CPUs through the agent
};

// unplug: by ids, by count (most recently plugged first), all hot-plugged, or
// the CPU at explicit props (a boot CPU included: that is how to ask QEMU to
// unplug CPU 0, which must fail).
struct UnplugStep {
  std::vector<std::string> ids;
  int count = 0;
  bool all = false;
  std::optional<CpuProps> props;
};

// online / offline, guest side, through guest-set-vcpus.
struct SetOnlineStep {
  bool online = true;
  bool all = true;  // every present CPU that can change
  CpuSet cpus;      // explicit guest CPU numbers (when !all and count == 0)
  int count = 0;    // offline: the highest-numbered N online CPUs; online: the lowest N offline
};

struct CheckStep {
  std::vector<std::string> only;  // invariant names; empty: all
  bool settle = true;             // re-check until consistent or the deadline
  // Deep probes (kDeepProbeNames: tasks, irqs, cpusets, smt) whose
  // invariants run too; `only` naming such an invariant implies its probe.
  std::vector<std::string> deep;
  // The guest's online mask must then be exactly this (e.g. what smt: on
  // brought back); nullopt: not asserted.
  std::optional<CpuSet> expect_online;
};

// The wrapped step must fail with this QMP (or guest agent) error class.
struct ExpectErrorStep {
  std::string error_class;
  std::optional<std::string> message;  // a substring of QEMU's "desc"
  std::vector<Step> step;              // exactly one
};

// The wrapped step must fail: a check naming these invariants, a migration
// that fails, a timeout, ... (see docs/scenarios.md).
struct ExpectFailureStep {
  std::vector<std::string> invariants;  // a check must fail with (at least) these
  std::optional<std::string> error;     // check|migration|timeout|qmp|agent|any
  std::optional<std::string> message;   // a substring of the failure message
  std::vector<Step> step;               // exactly one
};

struct MigrateStep {
  MigrationOptions options;
  int times = 1;                             // ping-pong: N consecutive migrations
  std::optional<std::string> expect_status;  // "completed" | "cancelled"
  // device_add/device_del tried while the migration is active
  // (options.probe_hotplug): "record" only records QEMU's answers;
  // "refused"/"accepted" also fail the step when an answer differs.
  std::optional<std::string> probe_hotplug;
};

struct GuestLoadStep {
  bool stop = false;
  int workers = 0;  // 0: one per online guest CPU
  // Worker i runs under `taskset -c pin[i]` (the rest unpinned); the start
  // waits until each pinned worker is seen runnable on one of its CPUs.
  std::vector<CpuSet> pin;
  // After the start, an unpinned worker must be seen runnable on one of these
  // CPUs: the scheduler uses a CPU onlined again for tasks free to go anywhere.
  std::optional<CpuSet> lands_on;
};

// A cgroup v2 cpuset in the guest: mounts cgroup2 at /sys/fs/cgroup if it
// is not, enables +cpuset for the root's children, creates /sys/fs/cgroup/NAME
// and writes `cpus` to its cpuset.cpus. Checks with `deep: [cpusets]` read it.
inline constexpr size_t kMaxCgroupNameBytes = 64;
struct CgroupStep {
  std::string name;
  CpuSet cpus;
};

// Writes /sys/devices/system/cpu/smt/control ("on" or "off").
struct SmtStep {
  std::string control;
};

struct RepeatStep {
  int times = 0;  // 0: use duration
  std::optional<Clock::duration> duration;
  std::vector<Step> steps;
};

struct SleepStep {
  Clock::duration duration{};
};

// A line the guest's console must print (vm/vm.h, Vm::WaitForConsoleLine).
struct WaitForConsoleStep {
  LinePattern pattern;
};

// reboot: the guest restarts in the same QEMU (vm/vm.h, Vm::Reboot), then
// the step checks the reboot invariants (check/lifecycle.h).
struct RebootStep {
  RebootVia via = RebootVia::kGuest;
};

// fail_at: tells the kernel to fail the next online or offline of `cpu` at
// hotplug state `state` (cpuN/hotplug/fail, CONFIG_CPU_HOTPLUG_STATE_CONTROL),
// does it, and checks the rollback (check/lifecycle.h). Skipped, with the
// reason in its record, where the guest has no cpuN/hotplug/fail.
struct FailAtStep {
  int cpu = 0;
  std::string state;            // a name from hotplug/states, or its number
  std::optional<bool> online;   // the transition; default: the CPU's opposite
};

enum class StepKind {
  kHotplug,
  kUnplug,
  kOnline,
  kOffline,
  kCheck,
  kExpectError,
  kExpectFailure,
  kMigrate,
  kGuestLoad,
  kRepeat,
  kSleep,
  kWaitForConsole,
  kCgroup,
  kSmt,
  kReboot,
  kFailAt,
};
// The last enumerator, so that tests can walk every kind.
inline constexpr StepKind kLastStepKind = StepKind::kFailAt;
// One row per step kind, the one place its word, default deadline, keys and
// the wrappers it may stand in are kept (as kInvariants[] is for invariants).
// A new kind is an enum value, a row, and its cases in the parser's and the
// executor's switches, which stay switches so that the compiler checks that
// none is forgotten.
struct StepKindInfo {
  StepKind kind;
  const char* word;  // the YAML key: "hotplug", "expect_error", ...
  Clock::duration default_timeout;
  // The keys its parameter map takes; empty when its parameter is a scalar
  // or a list (sleep: 2s, wait_for_console: REGEX, repeat's steps).
  std::vector<std::string> keys;
  // expect_error may wrap it: it sends a command that QEMU or the agent can
  // refuse with an error class.
  bool sends_command = false;
  // expect_failure may wrap it: it is one action whose failure is a verdict
  // (the wrappers, repeat and sleep are not).
  bool can_fail = false;
  // A scenario holding it anywhere always boots cold, never from a boot
  // template (vm/boot_template.h): it looks at what the guest does while it
  // boots (wait_for_console may match boot lines, which a restored guest's
  // console never prints).
  bool needs_cold_boot = false;
};
const std::vector<StepKindInfo>& StepKinds();
const StepKindInfo& StepKindInfoOf(StepKind kind);
std::optional<StepKind> StepKindFromWord(std::string_view word);
// The YAML key: "hotplug", "expect_error", ...
inline const char* StepKindName(StepKind kind) { return StepKindInfoOf(kind).word; }

struct Step {
  StepKind kind = StepKind::kCheck;
  std::string name;           // `name:` or a description derived from the parameters
  Clock::duration timeout{};  // unscaled; turned into a Deadline (scaled) when the step starts
  SourceLocation where;
  std::string path;  // its place in the file, "steps[2]" or "steps[3].repeat.steps[1]"
  // Where individual parameters were written ("count", "socket", ...), for
  // messages about them.
  std::map<std::string, SourceLocation> field_where;
  std::variant<HotplugStep, UnplugStep, SetOnlineStep, CheckStep, ExpectErrorStep,
               ExpectFailureStep, MigrateStep, GuestLoadStep, RepeatStep, SleepStep,
               WaitForConsoleStep, CgroupStep, SmtStep, RebootStep, FailAtStep>
      params;
};

// Where parameter `field` was written, else the step itself.
inline SourceLocation FieldWhere(const Step& step, const std::string& field) {
  auto it = step.field_where.find(field);
  return it == step.field_where.end() ? step.where : it->second;
}

// The default deadline of an expect_failure wrapping a check.
inline constexpr Clock::duration kExpectedFailureCheckTimeout = std::chrono::seconds(15);

// The default deadline of a step of this kind.
inline Clock::duration DefaultStepTimeout(StepKind kind) {
  return StepKindInfoOf(kind).default_timeout;
}

// A run's machine as the loader resolved it: the spec is the one that boots
// (cpu model defaulted, kernel, initrd and append taken from the kit), so
// that `cpuhp list` and spec.json agree; only --accel overrides it later.
struct MachineConfig {
  std::string backend = "qemu";
  MachineSpec spec;
  // The guest kit the spec's kernel comes from when it names neither a kernel
  // nor a disk; if it could not be read at load time, spec.kernel stays empty
  // and booting says why.
  std::filesystem::path kit;
  Clock::duration boot_timeout = kBootTimeout;
  // The scenario chose its QEMU (machine.qemu) or its kernel (kernel, disk
  // or kit): --target does not move such a run to another.
  bool qemu_given = false;
  bool kernel_given = false;
  std::string own_append;  // machine.append, which wins over any kit's
  std::string masquerade = "none";  // machine.masquerade (already applied to spec)
  // How many hot-added CPUs the guest is expected to take (`hotplug_cpus`):
  // nullopt for all that maxcpus leaves room for. A guest that takes fewer
  // fails the run at boot, since every later hotplug would fail for that one
  // reason; a number is for scenarios that boot such a guest on purpose.
  std::optional<int> hotplug_cpus;
  // machine.boot: nullopt leaves it to --boot, $CPUHP_BOOT or the default.
  std::optional<BootMode> boot;
  // machine.numa's node count (0: no -numa); its -object/-numa arguments are
  // in spec.extra_args.
  int numa_nodes = 0;
  // machine.boot_plugs: CPUs plugged while the guest boots (scenario/boot_plugs.h).
  BootPlugs boot_plugs;
};
// The most nodes machine.numa takes (QEMU's MAX_NODES).
inline constexpr int kMaxNumaNodes = 128;

// The longest directory name a run gets, and so the longest scenario name or
// run label the loader accepts: Linux's NAME_MAX.
inline constexpr size_t kMaxDirNameBytes = 255;

// Why `name` cannot be (part of) the name of a run's directory under the
// artifacts root, or "" if it can. The runner deletes and recreates that
// directory, so "." and ".." (the root itself, its parent) must never reach it.
std::string DirectoryNameProblem(const std::string& name);

// One run of a scenario: a matrix combination, fully resolved.
struct ScenarioRun {
  std::string scenario;        // the scenario's name
  std::filesystem::path file;  // the file it came from
  std::string description;
  std::string label;  // "smoke", or "topology[s2c2t2]" for a matrix run
  std::vector<std::pair<std::string, std::string>> matrix;  // axis -> value label
  std::vector<std::pair<std::string, std::string>> target;  // --target axis -> name
  std::vector<KnownBug> known_bugs;  // the scenario's known_bug, for every run
  MachineConfig machine;
  std::vector<Step> steps;
  SourceLocation where;  // the scenario's first line

  // A directory name for the run: the label with unsafe characters replaced,
  // never "." or ".." (nor any dotfile) and at most kMaxDirNameBytes (a
  // longer label is cut and ends in a hash of the whole, so runs stay apart).
  std::string DirName() const;
};

// How `run` boots: cold when `requested` (--boot) is cold, when the scenario
// says machine.boot: cold, or when a step of a kind that needs_cold_boot is
// in it; else snapshot when --boot or machine.boot says so, else
// DefaultBootMode(). *why says what decided it.
BootMode EffectiveBootMode(const ScenarioRun& run, std::optional<BootMode> requested,
                           std::string* why);

}  // namespace cpuhp
