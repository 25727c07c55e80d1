// The consistency checker: QEMU's view of the vCPUs against the guest
// kernel's, invariant by invariant.
//
// OWNER: issue 3 (the checker). This header is the contract the scenario
// runner and the migration step build on; extend it, keep these names.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "guest/cpu_snapshot.h"
#include "vm/cpu_hotplug.h"
#include "vm/machine_spec.h"

namespace cpuhp {

class Machine;

// What QEMU says: query-hotpluggable-cpus and query-cpus-fast.
struct HostView {
  std::vector<HotpluggableCpu> slots;
  std::vector<CpuInfoFast> cpus;
};
HostView ReadHostView(QmpClient& qmp);
nlohmann::json ToJson(const HostView& host);

enum class Verdict { kPass, kFail };

// One invariant's outcome. `detail` says, on failure, what was expected, what
// was seen and where ("state-settled: cpu3 hotplug/state=89 (sched:active)
// target=236 (online)").
struct InvariantResult {
  std::string name;
  Verdict verdict = Verdict::kPass;
  std::string detail;
};

struct CheckResult {
  std::vector<InvariantResult> invariants;
  bool Passed() const;
  std::vector<InvariantResult> Failures() const;
  // One line per failure; "all N invariants hold" when none.
  std::string Summary() const;
  nlohmann::json ToJson() const;
};

struct CheckOptions {
  // Run only these invariants (by stable name); empty: all.
  std::vector<std::string> only;
  // The hotplug/states table taken earlier (at boot): the "states-stable"
  // invariant compares against it. Empty: that invariant passes trivially.
  std::vector<HotplugState> baseline_states;
  // The -smp the VM was started with (maxcpus for "possible-count").
  SmpTopology smp;
};

// The stable names of all invariants, in report order.
const std::vector<std::string>& InvariantNames();

// Pure: evaluates the invariants on two views already read.
CheckResult RunChecks(const HostView& host, const GuestSnapshot& guest, const CheckOptions& options);

// Reads both views from a running machine and evaluates them.
CheckResult CheckMachine(Machine& vm, const CheckOptions& options);

// Re-reads and re-checks until everything passes or the deadline comes (the
// guest may still be finishing a transition); returns the last result.
CheckResult CheckUntilConsistent(Machine& vm, const CheckOptions& options, const Deadline& deadline);

}  // namespace cpuhp
