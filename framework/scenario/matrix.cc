#include "scenario/matrix.h"

#include <set>

#include "scenario/scenario.h"

namespace cpuhp {
namespace {

std::string Identifier(const YamlValue& key_holder, const std::string& name, const char* what) {
  if (name.empty() ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") !=
          std::string::npos) {
    key_holder.Fail(std::string(what) + " name '" + name +
                    "' must be letters, digits and underscores");
  }
  return name;
}

// vars and matrix are free-form maps, so they are read from the raw nodes,
// with our own checks.
struct RawEntry {
  std::string key;
  YAML::Node key_node;
  YAML::Node value;
};

std::vector<RawEntry> RawEntries(const YAML::Node& map) {
  std::vector<RawEntry> out;
  for (auto it = map.begin(); it != map.end(); ++it) {
    out.push_back({it->first.IsScalar() ? it->first.Scalar() : "", it->first, it->second});
  }
  return out;
}

// Remembers where each key of a raw map was first given, so that a second
// one is an error as YamlMap::AsMap makes it for typed maps.
class KeyLines {
 public:
  explicit KeyLines(std::string in) : in_(std::move(in)) {}
  void Add(const YamlValue& key, const std::string& name) {
    auto [it, fresh] = first_line_.emplace(name, key.where().line);
    if (!fresh) {
      throw ScenarioError(key.where(), "duplicate key '" + name + "' in " + in_ +
                                           " (first given on line " + std::to_string(it->second) +
                                           ")");
    }
  }

 private:
  std::string in_;
  std::map<std::string, int> first_line_;
};

MatrixAxis ListAxis(MatrixAxis axis, const YamlValue& values, const YAML::Node& node,
                    const std::shared_ptr<const YamlContext>& context) {
  for (const auto& item : values.Items()) {
    if (!item.IsScalar() || item.IsNull()) {
      item.Fail(
          "a list axis takes plain values; to give maps, name them: "
          "{label: {..}, other: {..}}");
    }
    if (std::string problem = DirectoryNameProblem(item.Scalar()); !problem.empty()) {
      item.Fail("the value " + QuotedForMessage(item.Scalar()) + " labels the run and " + problem +
                "; give it a label in a map axis: {label: value}");
    }
    axis.values.emplace_back(item.Scalar(), YAML::Node(item.Scalar()));
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < node.size(); ++i) {
    if (!seen.insert(axis.values[i].first).second) {
      YamlValue(node[i], values.path(), context)
          .Fail("value '" + axis.values[i].first + "' is listed twice");
    }
    axis.values[i].second.reset(node[i]);
  }
  return axis;
}

MatrixAxis MapAxis(MatrixAxis axis, const YamlValue& values, const YAML::Node& node,
                   const std::shared_ptr<const YamlContext>& context) {
  KeyLines labels(values.path());
  for (const auto& v : RawEntries(node)) {
    YamlValue label(v.key_node, values.path(), context);
    labels.Add(label, v.key);
    if (std::string problem = DirectoryNameProblem(v.key); !problem.empty()) {
      label.Fail("the label " + QuotedForMessage(v.key) + " " + problem);
    }
    axis.values.emplace_back(v.key, v.value);
  }
  return axis;
}

}  // namespace

std::map<std::string, YAML::Node> ParseVars(const YamlValue& vars, const YAML::Node& node,
                                            const std::shared_ptr<const YamlContext>& context) {
  if (!vars.IsMap()) vars.Fail("expected a map of name: value, got " + vars.TypeName());
  std::map<std::string, YAML::Node> out;
  KeyLines keys("vars");
  for (const auto& e : RawEntries(node)) {
    YamlValue key(e.key_node, "vars", context);
    keys.Add(key, e.key);
    out[Identifier(key, e.key, "variable")] = e.value;
  }
  return out;
}

std::vector<MatrixAxis> ParseMatrix(const YamlValue& matrix, const YAML::Node& node,
                                    const std::shared_ptr<const YamlContext>& context) {
  if (!matrix.IsMap()) matrix.Fail("expected a map of axis: [values], got " + matrix.TypeName());
  std::vector<MatrixAxis> axes;
  KeyLines axis_keys("matrix");
  for (const auto& e : RawEntries(node)) {
    YamlValue key(e.key_node, "matrix", context);
    axis_keys.Add(key, e.key);
    MatrixAxis axis{Identifier(key, e.key, "matrix axis"), {}};
    YamlValue values(e.value, "matrix." + e.key, context);
    if (e.value.IsSequence()) {
      axis = ListAxis(std::move(axis), values, e.value, context);
    } else if (e.value.IsMap()) {
      axis = MapAxis(std::move(axis), values, e.value, context);
    } else {
      values.Fail("expected a list of values or a map of label: value, got " + values.TypeName());
    }
    if (axis.values.empty()) values.Fail("the axis has no values");
    axes.push_back(std::move(axis));
  }
  return axes;
}

std::vector<std::vector<size_t>> ExpandMatrix(const std::vector<MatrixAxis>& axes,
                                              const SourceLocation& where) {
  // Counted before any combination is built: 9 axes of 10 values used to
  // build 10^9 of them (bad_alloc) before this check.
  size_t run_count = 1;
  for (const auto& axis : axes) {
    if (__builtin_mul_overflow(run_count, axis.values.size(), &run_count)) {
      throw ScenarioError(where, "the matrix expands to more than " + std::to_string(SIZE_MAX) +
                                     " runs; at most " + std::to_string(kMaxRuns));
    }
  }
  if (run_count > kMaxRuns) {
    throw ScenarioError(where, "the matrix expands to " + std::to_string(run_count) +
                                   " runs; at most " + std::to_string(kMaxRuns));
  }
  std::vector<size_t> sizes;
  for (const auto& axis : axes) sizes.push_back(axis.values.size());
  return Combinations(sizes);
}

std::vector<std::vector<size_t>> Combinations(const std::vector<size_t>& sizes) {
  std::vector<std::vector<size_t>> combos = {{}};
  for (size_t size : sizes) {
    std::vector<std::vector<size_t>> next;
    next.reserve(combos.size() * size);
    for (const auto& c : combos) {
      for (size_t i = 0; i < size; ++i) {
        auto n = c;
        n.push_back(i);
        next.push_back(std::move(n));
      }
    }
    combos = std::move(next);
  }
  return combos;
}

}  // namespace cpuhp
