// cpuhp repro: a standalone replay script from a run's artifacts.
#include <iostream>

#include "cli/cli_args.h"
#include "cli/commands.h"
#include "report/invocation.h"
#include "report/repro.h"

namespace cpuhp {
namespace {

constexpr char kReproUsage[] = R"(usage: cpuhp repro [-o FILE] <run-dir>
Writes a bash script (default <run-dir>/repro.sh) that starts the run's QEMU
with the same command line and replays its QMP and guest agent commands in
order with socat, printing what comes back. It needs bash, socat, base64 and
QEMU, not cpuhp. Use "-o -" to print it.
)";

}  // namespace

int RunReproCommand(const std::vector<std::string>& argv) {
  CliArgs args;
  try {
    args = ParseCliArgs(argv, {"o", "output"}, {"help", "h"});
    if (args.Has("help") || args.Has("h")) {
      std::cout << kReproUsage;
      return kExitPassed;
    }
    if (args.positional.size() != 1) throw UsageError("expected one run directory");
  } catch (const UsageError& e) {
    std::cerr << "cpuhp repro: " << e.what() << "\n\n" << kReproUsage;
    return kExitUsage;
  }
  std::string out = args.Value("o").value_or(args.Value("output").value_or(""));
  try {
    if (out == "-") {
      std::cout << GenerateReproScript(args.positional[0]);
      return kExitPassed;
    }
    std::cout << WriteReproScript(args.positional[0], out).string() << "\n";
  } catch (const Error& e) {
    std::cerr << "cpuhp repro: " << e.what() << "\n";
    return kExitUsage;
  }
  return kExitPassed;
}

}  // namespace cpuhp
