// The consistency checker: QEMU's view of the vCPUs against the guest
// kernel's, invariant by invariant.
//
// RunChecks() is pure: two views in, a CheckResult out, so that tests can
// fabricate broken snapshots. CheckMachine() reads both views from a running
// Vm (any backend: vm/vm.h) first. Each invariant has a stable kebab-case
// name (InvariantNames(), docs/invariants.md) used in reports and in
// scenarios' `expect:` lists.
//
//   CheckOptions options{.baseline_states = boot_snapshot.states};
//   CheckResult r = CheckUntilConsistent(vm, options, Deadline::After(kHotplugSettleTimeout));
//   EXPECT_TRUE(r.Passed()) << r.Summary();
//   // "state-settled: cpu3 hotplug/state=89 (sched:active) target=236 (online), ..."
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "guest/cpu_snapshot.h"
#include "vm/cpu_hotplug.h"
#include "vm/host_view.h"
#include "vm/machine_spec.h"

namespace cpuhp {

class Vm;

enum class Verdict { kPass, kFail };

// One disagreement: what was seen, what was expected, and where it was read.
//   {"cpu3", "hotplug/state=89 (sched:active) target=236 (online)",
//    "state == target", "guest cpu3/hotplug/{state,target}"}
struct Finding {
  std::string subject;  // "cpu3", "slot socket-id=1,core-id=0,thread-id=0", "masks"
  std::string seen;
  std::string expected;
  std::string source;
  // "cpu3 hotplug/state=89 (sched:active) target=236 (online), expected state
  // == target [guest cpu3/hotplug/{state,target}]"
  std::string Text() const;
  bool operator==(const Finding&) const = default;
};

// One invariant's outcome. `detail` says, on failure, what was expected, what
// was seen and where ("cpu3 hotplug/state=89 (sched:active) target=236
// (online), ..."): the findings' texts joined by "; ". `note` says what could
// not be observed or which kernel quirk was allowed for, pass or fail.
struct InvariantResult {
  std::string name;
  Verdict verdict = Verdict::kPass;
  std::string detail;
  std::vector<Finding> findings;
  std::string note;
};


struct CheckResult {
  std::vector<InvariantResult> invariants;
  // Set by CheckUntilConsistent: how many times both views were read, and
  // whether a failing check stopped because they had stopped changing.
  int readings = 0;
  bool stopped_unchanged = false;
  // Set by CheckMachine/CheckUntilConsistent when the IRQ view was read: the
  // counts of the last reading, for the next check's previous_irqs.
  std::optional<IrqCountsBaseline> irq_counts;
  // What the deep probe read at the last reading (ToJson(DeepView)), so that
  // a check's file shows what its deep invariants judged; null without one.
  nlohmann::json deep_view;
  bool Passed() const;
  std::vector<InvariantResult> Failures() const;
  // The result of the invariant called `name`, or nullptr if it was not run.
  const InvariantResult* Find(std::string_view name) const;
  // One line per failure ("state-settled: cpu3 ..."); "all N invariants hold" when none.
  std::string Summary() const;
  // {"passed": bool, "summary": "...", "invariants": [{"name", "verdict":
  // "pass"|"fail", "detail", "findings": [{subject, seen, expected, source}], "note"}]}
  // (+ "readings", "stopped_unchanged" from CheckUntilConsistent, "deep" with a deep view)
  nlohmann::json ToJson() const;
};

// The baseline a snapshot with an IRQ view gives; nullopt without one.
std::optional<IrqCountsBaseline> IrqCounts(const GuestSnapshot& guest);

struct CheckOptions {
  // Run only these invariants (by stable name); empty: all. An unknown name
  // makes RunChecks throw Error listing the known ones.
  std::vector<std::string> only = {};
  // The hotplug/states table taken earlier (at boot): the "states-stable"
  // invariant compares against it. Empty: that invariant passes, with a note.
  std::vector<HotplugState> baseline_states = {};
  // The -smp the VM was meant to run with. "possible-count" compares the
  // guest against QEMU's own -smp (HostView::smp), this (when not left
  // default) against QEMU's, and QEMU's slot count against both.
  // CheckMachine() fills it from the machine's spec.
  SmpTopology smp = {};
  // What the guest probe reads besides the CPUs (tasks, IRQs, cpusets, SMT:
  // guest/kernel_probe.h). The invariants over those views run only when
  // their probe is on here or `only` names them; CheckMachine() turns on the
  // probes that `only` implies.
  DeepProbe deep = {};
  // The per-CPU IRQ counts of an earlier check (IrqCounts()): the
  // irq-counts-frozen invariant compares the CPUs offline then and now.
  std::optional<IrqCountsBaseline> previous_irqs = {};
};

// The stable names of all invariants, in report order.
const std::vector<std::string>& InvariantNames();
// A one-line description of each invariant, by name ("" for unknown names).
std::string InvariantDescription(std::string_view name);
// The deep probe (kDeepProbeNames) an invariant needs; "" for the CPU
// invariants, which always run.
std::string InvariantProbe(std::string_view name);
// The invariants a check without deep probes runs (those needing no probe).
std::vector<std::string> PlainInvariantNames();
// `options.deep` plus the probes the invariants in `options.only` need.
DeepProbe EffectiveProbe(const CheckOptions& options);

// Pure: evaluates the invariants on two views already read.
CheckResult RunChecks(const HostView& host, const GuestSnapshot& guest,
                      const CheckOptions& options);

// Reads both views from a running machine and evaluates them. Throws what
// ReadHostView and ReadGuestSnapshot throw, with the machine's context added.
CheckResult CheckMachine(Vm& vm, const CheckOptions& options);

// Re-reads and re-checks until everything passes or the deadline comes (the
// guest may still be finishing a transition: nothing notifies, so it polls
// every 200 ms); returns the last result. A failing check whose two views
// read the same three times over 2 s (scaled by CPUHP_TIMEOUT_SCALE) is not
// settling, and returns then. Throws as CheckMachine().
CheckResult CheckUntilConsistent(Vm& vm, const CheckOptions& options,
                                 const Deadline& deadline);

}  // namespace cpuhp
