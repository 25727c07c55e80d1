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

// The most YAML values reading one file may construct, over all its runs.
// Every matrix run re-reads the document and an alias lets a few bytes name a
// big subtree again, so the file's size alone does not bound the work; this
// does: a fraction of a second of validate and ~60 MB of parsed runs, far
// above the shipped scenarios (under 2000 each).
inline constexpr long kMaxYamlValuesPerFile = 1'000'000;

// What ${name} stands for in one run: the file's `vars` with the matrix
// combination on top.
struct YamlContext {
  std::string file;  // as shown in messages
  // The file's vars, shared by every run (not copied per matrix run).
  std::shared_ptr<const std::map<std::string, YAML::Node>> file_vars;
  std::map<std::string, YAML::Node> vars;  // this run's matrix values
  // YamlValues constructed so far for this file, shared by every run's context.
  std::shared_ptr<long> values_read = std::make_shared<long>(0);

  // The variable's value (matrix first), or null when there is none.
  const YAML::Node* Find(const std::string& name) const;
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
  YamlMap AsMap(const std::vector<std::string>& allowed) const;

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

// The largest scenario file read: hand-written scenarios are a few KiB
// (the shipped ones under 1), and yaml-cpp's node graph costs ~700 bytes per
// value, so a MiB of tiny values took 380 MB; 256 KiB keeps that under 100 MB.
inline constexpr size_t kMaxScenarioFileBytes = 256 * 1024;

// Parses a whole YAML document; a syntax error becomes a ScenarioError at its
// mark, a file over kMaxScenarioFileBytes (or one that never ends, such as
// /dev/zero) one naming its size.
YAML::Node LoadYamlFile(const std::filesystem::path& file, const std::string& shown_name);

// `text` for a message: control characters escaped (\n, \x1b) so that a file
// cannot write to the terminal, and cut to about 60 characters.
std::string QuotedForMessage(const std::string& text);

}  // namespace cpuhp
