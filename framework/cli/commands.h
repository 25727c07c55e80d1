// cpuhp's subcommands. Each takes the arguments after its name and returns
// the process exit code (report/invocation.h: kExitPassed ... kExitSetup).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "scenario/scenario.h"

namespace cpuhp {

int RunRunCommand(const std::vector<std::string>& args);
int RunListCommand(const std::vector<std::string>& args);
int RunValidateCommand(const std::vector<std::string>& args);
int RunReproCommand(const std::vector<std::string>& args);
int RunDoctorCommand(const std::vector<std::string>& args);
int RunCacheCommand(const std::vector<std::string>& args);

// The runs of every scenario file under `paths` (default: ./scenarios),
// per file in order. Every file is read; each bad one is reported on stderr
// as "file:line:col: message". Returns false if any was bad.
struct FileRuns {
  std::filesystem::path file;
  std::vector<ScenarioRun> runs;
};
bool LoadScenarioFiles(const std::vector<std::string>& paths, std::vector<FileRuns>* out);

}  // namespace cpuhp
