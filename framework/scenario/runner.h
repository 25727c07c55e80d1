// Runs one ScenarioRun against a fresh VM, start to end, and records it.
//
// The VM is spawned by the calling thread (PR_SET_PDEATHSIG is per forking
// thread): call RunScenario from the thread that lives as long as the run.
// The run directory (options.artifacts_root / run.DirName()) receives the
// VM's serial.log, transcript.log, qemu.log and cmdline.sh, plus
// spec.json, steps.json, checks/NN-*.json, result.json and, when asked,
// repro.sh. Never throws for anything the run does: failures and setup
// errors end up in the RunResult.
//
//   RunResult r = RunScenario(run, {.artifacts_root = "cpuhp-artifacts/now"});
//   if (!r.Passed()) std::cerr << r.FailureLine();
#pragma once

#include <atomic>
#include <filesystem>
#include <optional>

#include "report/run_result.h"
#include "scenario/scenario.h"

namespace cpuhp {

struct RunOptions {
  std::filesystem::path artifacts_root = "cpuhp-artifacts";
  // --accel: replaces the scenario's accel.
  std::optional<Accel> accel_override;
  bool emit_repro = false;
  // The run stops between steps (as cancelled) once this becomes true.
  const std::atomic<bool>* cancel = nullptr;
  // The run's directory name under artifacts_root; default run.DirName().
  std::string dir_name;
  // --boot: cold boots every run cold; snapshot restores every run that may
  // be restored (EffectiveBootMode in scenario.h); unset leaves it to the
  // scenario, $CPUHP_BOOT and the default.
  std::optional<BootMode> boot;
  // --seed: the boot_plugs times of every run (else the scenario's seed,
  // else a fresh one); printed and recorded in result.json.
  std::optional<uint64_t> seed;
};

RunResult RunScenario(const ScenarioRun& run, const RunOptions& options,
                      RunObserver* observer = nullptr, int index = 0);

}  // namespace cpuhp
