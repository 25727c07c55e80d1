// From scenario files to validated runs, before any VM starts.
//
//   std::vector<ScenarioRun> runs = LoadScenarioRuns("scenarios/smoke.yaml");
//
// Everything that can be known without a VM is checked here: YAML syntax,
// unknown keys, types, the -smp topology, and a dry run of the steps against
// the slots the topology offers (plugging beyond maxcpus, unplugging an id
// never plugged or the boot CPU outside expect_error, ...). Problems throw
// ScenarioError with file:line:col.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "scenario/scenario.h"

namespace cpuhp {

// Every run the file defines (one per matrix combination), validated.
// Throws ScenarioError.
std::vector<ScenarioRun> LoadScenarioRuns(const std::filesystem::path& file);

// The scenario files named on a command line: files as given, directories'
// *.yaml and *.yml (not recursive), each list sorted. Throws ScenarioError
// for a path that does not exist or a directory without scenarios.
std::vector<std::filesystem::path> CollectScenarioFiles(const std::vector<std::string>& paths);

// True if `label` matches `filter`: a glob (*, ?, [..]) when it has one, else
// a substring.
bool MatchesFilter(const std::string& label, const std::string& filter);

}  // namespace cpuhp
