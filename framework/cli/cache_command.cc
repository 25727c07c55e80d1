// cpuhp cache list|clear: the boot templates (vm/boot_template.h).
#include <iomanip>
#include <iostream>

#include "cli/commands.h"
#include "report/invocation.h"
#include "vm/boot_template.h"

namespace cpuhp {
namespace {

constexpr char kCacheUsage[] = R"(usage: cpuhp cache list|clear

  list   the boot templates in the cache (key, size, QEMU, when made, the
         -smp and -m they boot), and any that cannot be used
  clear  remove every boot template (the next run of each configuration
         boots cold and makes a new one)
The cache is $CPUHP_CACHE_DIR, else $XDG_CACHE_HOME/cpuhp, else ~/.cache/cpuhp;
templates are in its templates/ directory.
)";

// The value after `flag` in a template's normalised command line.
std::string ArgAfter(const nlohmann::json& argv, const std::string& flag) {
  if (!argv.is_array()) return "?";
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag && argv[i + 1].is_string()) return argv[i + 1].get<std::string>();
  }
  return "-";
}

}  // namespace

int RunCacheCommand(const std::vector<std::string>& args) {
  if (args.size() != 1 || (args[0] != "list" && args[0] != "clear")) {
    std::cerr << kCacheUsage;
    return args.size() == 1 && (args[0] == "--help" || args[0] == "-h") ? kExitPassed : kExitUsage;
  }
  if (args[0] == "clear") {
    int n = ClearTemplates();
    std::cout << "removed " << n << " file" << (n == 1 ? "" : "s") << " from "
              << TemplateDir().string() << "\n";
    return kExitPassed;
  }
  std::vector<TemplateEntry> entries = ListTemplates();
  std::cout << TemplateDir().string() << ": " << entries.size() << " template"
            << (entries.size() == 1 ? "" : "s") << "\n";
  for (const auto& e : entries) {
    std::cout << "  " << e.path.stem().string() << "  " << std::setw(5) << e.bytes / (1 << 20)
              << " MiB";
    if (!e.header) {
      std::cout << "  unusable: " << e.problem << "\n";
      continue;
    }
    const nlohmann::json argv = e.header->material.value("argv", nlohmann::json());
    std::cout << "  qemu " << e.header->qemu_version << "  " << e.header->created_utc << "  -smp "
              << ArgAfter(argv, "-smp") << " -m " << ArgAfter(argv, "-m") << " -cpu "
              << ArgAfter(argv, "-cpu") << "\n";
  }
  return kExitPassed;
}

}  // namespace cpuhp
