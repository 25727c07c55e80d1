// A run's `steps:` list, from YAML to Steps: each step's kind comes from the
// StepKinds() table, its parameters from the kind's parser function, and its
// deadline from the table's default unless the step gives one.
#pragma once

#include <vector>

#include "scenario/scenario.h"
#include "scenario/yaml_value.h"

namespace cpuhp {

// Parses the list. `file_steps` counts the steps of the file's runs parsed so
// far (a file has a budget across its matrix runs); it is updated. Throws
// ScenarioError naming file, line and the step's path.
std::vector<Step> ParseSteps(const YamlValue& list, int& file_steps);

}  // namespace cpuhp
