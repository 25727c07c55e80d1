// A scenario's variables: the file's `vars:` and the `matrix:` whose every
// combination of values is one run. Values stay raw YAML nodes, because
// ${name} may stand for a scalar, a list or a map.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "scenario/yaml_value.h"

namespace cpuhp {

// The most runs one file's matrix may expand to: more is surely a mistake
// (each run boots a VM), and the combinations are counted, not built, first.
inline constexpr size_t kMaxRuns = 1000;

struct MatrixAxis {
  std::string name;
  std::vector<std::pair<std::string, YAML::Node>> values;  // label -> value
};

// `vars` is the typed view of `node` (the file's vars: map). Throws
// ScenarioError for a non-map, a duplicate or a name that is not an identifier.
std::map<std::string, YAML::Node> ParseVars(const YamlValue& vars, const YAML::Node& node,
                                            const std::shared_ptr<const YamlContext>& context);

// The axes of `matrix` (typed view of `node`), in file order.
std::vector<MatrixAxis> ParseMatrix(const YamlValue& matrix, const YAML::Node& node,
                                    const std::shared_ptr<const YamlContext>& context);

// Every combination of one index per axis, `sizes[i]` values on axis i,
// first axis slowest; one empty combination for no axes. Used for the
// matrix and for --target.
std::vector<std::vector<size_t>> Combinations(const std::vector<size_t>& sizes);

// Every combination, first axis slowest: for each run, the index of its
// value on each axis. One empty combination when there are no axes. Throws
// ScenarioError at `where` when there would be more than kMaxRuns.
std::vector<std::vector<size_t>> ExpandMatrix(const std::vector<MatrixAxis>& axes,
                                              const SourceLocation& where);

}  // namespace cpuhp
