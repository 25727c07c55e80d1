// cpuhp list / cpuhp validate: what the scenarios define, without a VM.
#include <iostream>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "report/invocation.h"
#include "scenario/scenario_loader.h"
#include "vm/machine_spec.h"

namespace cpuhp {
namespace {

constexpr char kListUsage[] =
    R"(usage: cpuhp list [--filter PATTERN] [--target AXIS=V,..] [<file|dir>...]
                                                     (default: scenarios/)
Lists every run the scenarios define (after matrix expansion), one per line:
its label, the file, the machine as it will boot (QEMU's -smp, -m and -cpu,
the accelerator asked for, the kernel or disk) and the number of steps.
--target, --qemu and --kernel expand and resolve the runs as cpuhp run does.
)";

constexpr char kValidateUsage[] = R"(usage: cpuhp validate [<file|dir>...]   (default: scenarios/)
Checks the scenarios (syntax, keys, types, topology, a dry run of the
steps) without starting a VM. Prints file:line:col: message for each bad
file; exit code 0 when all are valid, 2 otherwise.
)";

// The machine as it will boot: the loader has resolved the CPU model and
// the kit, so this is what spec.json will say (less --accel).
std::string MachineLine(const ScenarioRun& run) {
  const MachineSpec& s = run.machine.spec;
  std::string boots = !s.disk.empty()     ? "disk " + s.disk.filename().string()
                      : !s.kernel.empty() ? "kernel " + s.kernel.string()
                                          : "no guest kit at " + run.machine.kit.string();
  return s.machine_type + " -smp " + s.smp.ToQemuArg() + " -m " + std::to_string(s.memory_mib) +
         " -cpu " + s.cpu_model + " accel " + AccelName(s.accel) + " " + boots;
}

}  // namespace

int RunListCommand(const std::vector<std::string>& argv) {
  CliArgs args;
  std::vector<TargetAxis> targets;
  try {
    args = ParseCliArgs(argv, {"filter", "target", "qemu", "kernel"}, {"help", "h"});
    targets = TargetArgs(args);
  } catch (const UsageError& e) {
    std::cerr << "cpuhp list: " << e.what() << "\n\n" << kListUsage;
    return kExitUsage;
  }
  if (args.Has("help") || args.Has("h")) {
    std::cout << kListUsage;
    return kExitPassed;
  }
  std::vector<FileRuns> files;
  bool ok = LoadScenarioFiles(args.positional, &files);
  try {
    for (auto& f : files) f.runs = ApplyTargets(f.runs, targets);
  } catch (const Error& e) {
    std::cerr << "cpuhp list: --target: " << e.what() << "\n";
    return kExitUsage;
  }
  size_t width = 0;
  for (const auto& f : files) {
    for (const auto& r : f.runs) width = std::max(width, r.label.size());
  }
  int shown = 0;
  for (const auto& f : files) {
    for (const auto& r : f.runs) {
      bool selected = args.Values("filter").empty();
      for (const auto& p : args.Values("filter")) selected = selected || MatchesFilter(r.label, p);
      if (!selected) continue;
      std::string label = r.label;
      label.resize(width, ' ');
      std::cout << label << "  " << f.file.string() << "  " << MachineLine(r) << "  "
                << r.steps.size() << " step" << (r.steps.size() == 1 ? "" : "s") << "\n";
      ++shown;
    }
  }
  std::cout << shown << " run" << (shown == 1 ? "" : "s") << "\n";
  return ok ? kExitPassed : kExitUsage;
}

int RunValidateCommand(const std::vector<std::string>& argv) {
  CliArgs args;
  try {
    args = ParseCliArgs(argv, {}, {"help", "h"});
  } catch (const UsageError& e) {
    std::cerr << "cpuhp validate: " << e.what() << "\n\n" << kValidateUsage;
    return kExitUsage;
  }
  if (args.Has("help") || args.Has("h")) {
    std::cout << kValidateUsage;
    return kExitPassed;
  }
  std::vector<FileRuns> files;
  bool ok = LoadScenarioFiles(args.positional, &files);
  for (const auto& f : files) {
    std::cout << "ok  " << f.file.string() << " (" << f.runs.size() << " run"
              << (f.runs.size() == 1 ? "" : "s") << ")\n";
  }
  return ok ? kExitPassed : kExitUsage;
}

}  // namespace cpuhp
