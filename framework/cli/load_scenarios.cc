#include <iostream>

#include "cli/commands.h"
#include "scenario/scenario_loader.h"

namespace cpuhp {

bool LoadScenarioFiles(const std::vector<std::string>& paths, std::vector<FileRuns>* out) {
  std::vector<std::string> args = paths;
  if (args.empty()) args.push_back("scenarios");
  std::vector<std::filesystem::path> files;
  try {
    files = CollectScenarioFiles(args);
  } catch (const ScenarioError& e) {
    std::cerr << e.what() << "\n";
    return false;
  }
  bool ok = true;
  for (const auto& file : files) {
    try {
      out->push_back({file, LoadScenarioRuns(file)});
    } catch (const ScenarioError& e) {
      std::cerr << e.what() << "\n";
      ok = false;
    }
  }
  return ok;
}

}  // namespace cpuhp
