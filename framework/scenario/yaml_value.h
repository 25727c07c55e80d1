// Typed, located access to a scenario's YAML, with ${variable} substitution.
//
// Every accessor either returns a value of the asked type or throws a
// ScenarioError at the node's file:line:col naming the key path
// ("steps[2].hotplug.count: expected an integer, got \"three\""). Maps are
// read through YamlMap, which rejects unknown and duplicate keys (suggesting
// the nearest known key) so that a typo never silently means "default".
//
//   YamlMap m = value.AsMap("machine", {"type", "smp", "memory"});
//   if (auto t = m.Get("type")) spec.machine_type = t->AsString();
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "scenario/scenario_error.h"
#include "util/deadline.h"

namespace cpuhp {

// What ${name} stands for in one run: the file's `vars` with the matrix
// combination on top.
struct YamlContext {
  std::string file;  // as shown in messages
  std::map<std::string, YAML::Node> vars;
};

class YamlMap;

class YamlValue {
 public:
  // Resolves a scalar that is exactly "${name}" to the variable's node (of
  // any type), and substitutes ${name} inside longer scalars.
  YamlValue(YAML::Node node, std::string path, std::shared_ptr<const YamlContext> context);

  const std::string& path() const { return path_; }
  SourceLocation where() const;
  [[noreturn]] void Fail(const std::string& message) const;

  bool IsNull() const { return !node_.IsDefined() || node_.IsNull(); }
  bool IsScalar() const { return node_.IsScalar(); }
  bool IsMap() const { return node_.IsMap(); }
  bool IsSequence() const { return node_.IsSequence(); }
  // "a string", "a map", "a list", "null": for messages.
  std::string TypeName() const;
  // The scalar's text (the caller has checked IsScalar()).
  const std::string& Scalar() const { return node_.Scalar(); }

  std::string AsString() const;
  int AsInt(int min, int max) const;
  uint64_t AsUint64() const;
  bool AsBool() const;
  Clock::duration AsDuration() const;
  // A string that must be one of `choices`.
  std::string AsEnum(std::initializer_list<const char*> choices) const;
  std::vector<YamlValue> Items() const;  // a list
  // A map whose keys must be among `allowed`.
  YamlMap AsMap(std::initializer_list<const char*> allowed) const;

 private:
  YAML::Node node_;
  YAML::Mark mark_;
  std::string path_;
  std::string via_;  // " (from ${name})" when substituted
  std::shared_ptr<const YamlContext> context_;
};

class YamlMap {
 public:
  YamlMap(const YamlValue& self, std::vector<std::pair<std::string, YamlValue>> entries,
          std::map<std::string, SourceLocation> key_where)
      : self_(self), entries_(std::move(entries)), key_where_(std::move(key_where)) {}

  bool Has(const std::string& key) const;
  std::optional<YamlValue> Get(const std::string& key) const;
  // Throws "missing required key 'key'" at the map.
  YamlValue Require(const std::string& key) const;
  const std::vector<std::pair<std::string, YamlValue>>& entries() const { return entries_; }
  const YamlValue& self() const { return self_; }
  // The location of `key` itself (for "this key is wrong here" messages).
  SourceLocation KeyWhere(const std::string& key) const;

 private:
  YamlValue self_;
  std::vector<std::pair<std::string, YamlValue>> entries_;
  std::map<std::string, SourceLocation> key_where_;
};

// The known word nearest to `word` within edit distance 2, or "".
std::string NearestWord(const std::string& word, const std::vector<std::string>& known);

// Parses a whole YAML document; a syntax error becomes a ScenarioError at its mark.
YAML::Node LoadYamlFile(const std::filesystem::path& file, const std::string& shown_name);

}  // namespace cpuhp
