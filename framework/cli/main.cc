// cpuhp: the command-line entry point; dispatches to the subcommands.
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "report/invocation.h"
#include "util/error.h"

// `cpuhp inspect` lives with the checker (cli/inspect_command.{h,cc}); a
// build without it still links and says so.
#if __has_include("cli/inspect_command.h")
#include "cli/inspect_command.h"
#define CPUHP_HAVE_INSPECT 1
#endif

namespace {

constexpr char kUsage[] = R"(usage: cpuhp <command> [options] [arguments]

Commands:
  run [<file|dir>...]     run scenarios (default: scenarios/); see cpuhp run --help
  list [<file|dir>...]    list the runs the scenarios define (after matrix expansion)
  validate [<file|dir>...]  check scenarios without starting a VM
  inspect ...             look at a running or recorded VM (see cpuhp inspect --help)
  repro <run-dir>         write a standalone replay script for a run
  doctor                  what this host can run (QEMU, KVM, TCG, guest kits)
  cache list|clear        the boot templates snapshot boot restores (docs/cli.md)
  version                 print the version
Docs: docs/cli.md (commands, flags, exit codes), docs/scenarios.md (the format).
)";

int Inspect(const std::vector<std::string>& args) {
#ifdef CPUHP_HAVE_INSPECT
  return cpuhp::RunInspectCommand(args);
#else
  (void)args;
  std::cerr << "cpuhp inspect is not part of this build\n";
  return cpuhp::kExitUsage;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage;
    return args.empty() ? cpuhp::kExitUsage : cpuhp::kExitPassed;
  }
  std::string command = args[0];
  args.erase(args.begin());
  try {
    if (command == "version" || command == "--version") {
      std::cout << "cpuhp " << CPUHP_VERSION << "\n";
      return cpuhp::kExitPassed;
    }
    if (command == "run") return cpuhp::RunRunCommand(args);
    if (command == "list") return cpuhp::RunListCommand(args);
    if (command == "validate") return cpuhp::RunValidateCommand(args);
    if (command == "repro") return cpuhp::RunReproCommand(args);
    if (command == "doctor") return cpuhp::RunDoctorCommand(args);
    if (command == "inspect") return Inspect(args);
    if (command == "cache") return cpuhp::RunCacheCommand(args);
  } catch (const std::exception& e) {
    std::cerr << "cpuhp " << command << ": " << e.what() << "\n";
    return cpuhp::kExitSetup;
  }
  std::cerr << "cpuhp: unknown command '" << command << "'\n\n" << kUsage;
  return cpuhp::kExitUsage;
}
