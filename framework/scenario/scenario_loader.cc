#include "scenario/scenario_loader.h"

#include <fnmatch.h>

#include <algorithm>

#include "scenario/dry_run.h"
#include "scenario/machine_config.h"
#include "scenario/matrix.h"
#include "scenario/step_parser.h"
#include "scenario/yaml_value.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kScenarioKeys = {"name",    "description", "vars",     "matrix",
                                                "machine", "steps",       "known_bug"};

std::string ScenarioName(const YamlMap& m, const fs::path& file, const std::string& shown) {
  if (auto n = m.Get("name")) {
    std::string name = n->AsString();
    if (std::string problem = DirectoryNameProblem(name); !problem.empty()) {
      n->Fail("scenario name " + QuotedForMessage(name) + " " + problem);
    }
    if (name.empty() ||
        name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789_-.") != std::string::npos) {
      n->Fail("scenario name '" + name + "' must be letters, digits, '-', '_' and '.'");
    }
    return name;
  }
  std::string name = file.stem().string();
  std::string problem = name.empty() ? "is empty" : DirectoryNameProblem(name);
  if (!problem.empty()) {
    throw ScenarioError({shown, 1, 1},
                        "the scenario has no name: key, and the name its file name "
                        "gives, " +
                            QuotedForMessage(name) + ", " + problem + "; add a name: key");
  }
  return name;
}

}  // namespace

std::vector<ScenarioRun> LoadScenarioRuns(const fs::path& file) {
  std::string shown = file.lexically_normal().string();
  YAML::Node root = LoadYamlFile(file, shown);
  auto base_context = std::make_shared<YamlContext>();
  base_context->file = shown;
  YamlValue top(root, "", base_context);
  if (top.IsNull()) throw ScenarioError({shown, 1, 1}, "the file is empty");
  YamlMap m = top.AsMap(kScenarioKeys);

  std::string name = ScenarioName(m, file, shown);
  std::string description;
  if (auto d = m.Get("description")) description = d->AsString();
  auto vars = std::make_shared<std::map<std::string, YAML::Node>>();
  if (auto v = m.Get("vars")) *vars = ParseVars(*v, root["vars"], base_context);
  base_context->file_vars = vars;
  std::vector<MatrixAxis> axes;
  if (auto mx = m.Get("matrix")) axes = ParseMatrix(*mx, root["matrix"], base_context);
  if (!m.Get("steps")) top.Fail("missing required key 'steps'");

  DryRunBudget dry_run_budget;
  int file_steps = 0;
  std::vector<ScenarioRun> runs;
  for (const auto& combo : ExpandMatrix(axes, m.KeyWhere("matrix"))) {
    auto context = std::make_shared<YamlContext>(*base_context);
    ScenarioRun run;
    run.scenario = name;
    run.file = file;
    run.description = description;
    run.where = {shown, 1, 1};
    std::string label;
    for (size_t a = 0; a < axes.size(); ++a) {
      const auto& [value_label, value] = axes[a].values[combo[a]];
      // erase + emplace: assigning to a YAML::Node writes through to the document.
      context->vars.erase(axes[a].name);
      context->vars.emplace(axes[a].name, value);
      run.matrix.emplace_back(axes[a].name, value_label);
      label += (label.empty() ? "" : ",") + value_label;
    }
    run.label = axes.empty() ? name : name + "[" + label + "]";
    if (run.label.size() > kMaxDirNameBytes) {
      throw ScenarioError(m.KeyWhere("matrix"), "the run label " + QuotedForMessage(run.label) +
                                                    " is " + std::to_string(run.label.size()) +
                                                    " bytes long; at most " +
                                                    std::to_string(kMaxDirNameBytes) +
                                                    " (NAME_MAX: it names the run's artifacts "
                                                    "directory)");
    }
    try {
      // Re-read with this run's variables.
      YamlValue run_top(root, "", context);
      YamlMap rm = run_top.AsMap(kScenarioKeys);
      run.machine = ParseMachine(rm.Get("machine"), file);
      run.machine.spec.name = run.DirName();
      run.steps = ParseSteps(rm.Require("steps"), file_steps);
      if (auto k = rm.Get("known_bug")) run.known_bugs = ParseKnownBugs(*k);
      DryRun(run, dry_run_budget);
    } catch (const ScenarioError& e) {
      if (axes.empty()) throw;
      throw ScenarioError(e.where(), e.detail() + " [in run " + run.label + "]");
    }
    runs.push_back(std::move(run));
  }
  return runs;
}

std::vector<fs::path> CollectScenarioFiles(const std::vector<std::string>& paths) {
  std::vector<fs::path> out;
  for (const auto& arg : paths) {
    fs::path p = arg;
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      std::vector<fs::path> found;
      for (const auto& entry : fs::directory_iterator(p, ec)) {
        auto ext = entry.path().extension();
        if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml")) {
          found.push_back(entry.path());
        }
      }
      if (found.empty()) throw ScenarioError({arg, 0, 0}, "no *.yaml scenarios in this directory");
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (fs::exists(p, ec)) {
      out.push_back(p);
    } else {
      throw ScenarioError({arg, 0, 0}, "no such file or directory");
    }
  }
  return out;
}

bool MatchesFilter(const std::string& label, const std::string& filter) {
  if (filter.find_first_of("*?[") != std::string::npos) {
    return ::fnmatch(filter.c_str(), label.c_str(), 0) == 0;
  }
  return label.find(filter) != std::string::npos;
}

}  // namespace cpuhp