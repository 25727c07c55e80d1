#include "scenario/yaml_value.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <set>

#include "scenario/duration.h"
#include "util/text.h"

namespace cpuhp {
namespace {

std::string Quoted(const std::string& s) { return QuotedForMessage(s); }

// The name in "${name}" at `text[at]`, or "" if there is none.
std::string VariableAt(const std::string& text, size_t at, size_t* end) {
  if (text.compare(at, 2, "${") != 0) return "";
  size_t close = text.find('}', at + 2);
  if (close == std::string::npos) return "";
  std::string name = text.substr(at + 2, close - at - 2);
  if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "0123456789_") != std::string::npos) {
    return "";
  }
  *end = close + 1;
  return name;
}

SourceLocation Locate(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return {file, 0, 0};
  return {file, mark.line + 1, mark.column + 1};
}

}  // namespace

const YAML::Node* YamlContext::Find(const std::string& name) const {
  if (auto it = vars.find(name); it != vars.end()) return &it->second;
  if (file_vars) {
    if (auto it = file_vars->find(name); it != file_vars->end()) return &it->second;
  }
  return nullptr;
}

YamlValue::YamlValue(YAML::Node node, std::string path, std::shared_ptr<const YamlContext> context)
    : node_(node), path_(std::move(path)), context_(std::move(context)) {
  mark_ = node_.IsDefined() ? node_.Mark() : YAML::Mark::null_mark();
  if (++*context_->values_read > kMaxYamlValuesPerFile) {
    Fail("reading this file takes more than " + std::to_string(kMaxYamlValuesPerFile) +
         " YAML values, counting each run of its matrix and each use of an alias; make it "
         "smaller");
  }
  // Variables resolve at most a few levels deep; a cycle is an error.
  for (int depth = 0; node_.IsDefined() && node_.IsScalar(); ++depth) {
    const std::string& text = node_.Scalar();
    if (text.find("${") == std::string::npos) break;
    if (depth > 8) Fail("variables refer to each other in a cycle");
    size_t end = 0;
    std::string whole = VariableAt(text, 0, &end);
    if (!whole.empty() && end == text.size()) {
      const YAML::Node* value = context_->Find(whole);
      if (value == nullptr) Fail("undefined variable ${" + whole + "}");
      // reset(), not =: assigning a YAML::Node writes through to the document.
      node_.reset(*value);
      // Point at the value as written under vars/matrix: that is what to fix.
      if (!node_.Mark().is_null()) mark_ = node_.Mark();
      via_ = " (from ${" + whole + "})";
      continue;
    }
    std::string out;
    for (size_t i = 0; i < text.size();) {
      std::string name = VariableAt(text, i, &end);
      if (name.empty()) {
        out += text[i++];
        continue;
      }
      const YAML::Node* value = context_->Find(name);
      if (value == nullptr) Fail("undefined variable ${" + name + "}");
      if (!value->IsScalar()) {
        Fail("variable ${" + name + "} is a " + (value->IsMap() ? "map" : "list") +
             " and cannot be part of a string");
      }
      out += value->Scalar();
      if (out.size() > kMaxScenarioFileBytes) {
        Fail("substituting variables makes this value longer than " +
             std::to_string(kMaxScenarioFileBytes) + " bytes");
      }
      i = end;
    }
    node_.reset(YAML::Node(out));
    via_ = " (after substitution)";
  }
}

SourceLocation YamlValue::where() const { return Locate(context_->file, mark_); }

void YamlValue::Fail(const std::string& message) const {
  throw ScenarioError(where(), (path_.empty() ? "" : path_ + ": ") + message + via_);
}

std::string YamlValue::TypeName() const {
  if (IsNull()) return "nothing (null)";
  if (IsMap()) return "a map";
  if (IsSequence()) return "a list";
  return Quoted(node_.Scalar());
}

std::string YamlValue::AsString() const {
  if (!IsScalar() || IsNull()) Fail("expected a string, got " + TypeName());
  return node_.Scalar();
}

int YamlValue::AsInt(int min, int max) const {
  if (!IsScalar() || IsNull()) Fail("expected an integer, got " + TypeName());
  const std::string& text = node_.Scalar();
  long long v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    Fail("expected an integer, got " + Quoted(text));
  }
  if (v < min || v > max) {
    Fail("must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
         text);
  }
  return static_cast<int>(v);
}

uint64_t YamlValue::AsUint64() const {
  if (!IsScalar() || IsNull()) Fail("expected a non-negative integer, got " + TypeName());
  const std::string& text = node_.Scalar();
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    Fail("expected a non-negative integer, got " + Quoted(text));
  }
  return v;
}

bool YamlValue::AsBool() const {
  if (IsScalar() && !IsNull()) {
    if (node_.Scalar() == "true") return true;
    if (node_.Scalar() == "false") return false;
  }
  Fail("expected true or false, got " + TypeName());
}

Clock::duration YamlValue::AsDuration() const {
  if (IsScalar() && !IsNull()) {
    if (auto d = ParseDuration(node_.Scalar())) {
      if (*d > kMaxScenarioDuration) {
        Fail("must be at most " + std::to_string(kMaxScenarioDuration.count()) + "h (" +
             std::to_string(kMaxScenarioDuration.count() / 24) + " days), got " +
             Quoted(node_.Scalar()));
      }
      return *d;
    }
  }
  Fail("expected a duration such as 30s, 500ms or 2m, got " + TypeName());
}

std::string YamlValue::AsEnum(std::initializer_list<const char*> choices) const {
  if (IsScalar() && !IsNull()) {
    for (const char* c : choices) {
      if (node_.Scalar() == c) return c;
    }
  }
  Fail("expected one of " + Join(choices) + ", got " + TypeName());
}

std::vector<YamlValue> YamlValue::Items() const {
  if (!IsSequence()) Fail("expected a list, got " + TypeName());
  std::vector<YamlValue> out;
  for (size_t i = 0; i < node_.size(); ++i) {
    out.emplace_back(node_[i], path_ + "[" + std::to_string(i + 1) + "]", context_);
  }
  return out;
}

YamlMap YamlValue::AsMap(std::initializer_list<const char*> allowed) const {
  return AsMap(std::vector<std::string>(allowed.begin(), allowed.end()));
}

YamlMap YamlValue::AsMap(const std::vector<std::string>& known) const {
  if (!IsMap()) Fail("expected a map, got " + TypeName());
  std::vector<std::pair<std::string, YamlValue>> entries;
  std::map<std::string, int> first_line;
  std::map<std::string, SourceLocation> key_where;
  for (auto it = node_.begin(); it != node_.end(); ++it) {
    YamlValue key(it->first, path_, context_);
    if (!it->first.IsScalar()) key.Fail("a key must be a plain word, got " + key.TypeName());
    std::string name = it->first.Scalar();
    std::string child_path = path_.empty() ? name : path_ + "." + name;
    SourceLocation at = key.where();
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      std::string hint = NearestWord(name, known);
      throw ScenarioError(at, "unknown key '" + name + "' in " +
                                  (path_.empty() ? std::string("the scenario") : path_) +
                                  (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
                                  "; allowed: " + Join(known));
    }
    if (auto seen = first_line.find(name); seen != first_line.end()) {
      throw ScenarioError(at, "duplicate key '" + name + "' in " +
                                  (path_.empty() ? std::string("the scenario") : path_) +
                                  " (first given on line " + std::to_string(seen->second) + ")");
    }
    first_line[name] = at.line;
    YamlValue value(it->second, child_path, context_);
    // An empty value ("check:") has no position of its own: use its key's.
    if (value.mark_.is_null() || value.IsNull()) value.mark_ = it->first.Mark();
    entries.emplace_back(name, std::move(value));
    key_where[name] = at;
  }
  return YamlMap(*this, std::move(entries), std::move(key_where));
}

bool YamlMap::Has(const std::string& key) const { return Get(key).has_value(); }

std::optional<YamlValue> YamlMap::Get(const std::string& key) const {
  for (const auto& [k, v] : entries_) {
    if (k == key) return v;
  }
  return std::nullopt;
}

YamlValue YamlMap::Require(const std::string& key) const {
  if (auto v = Get(key)) return *v;
  self_.Fail("missing required key '" + key + "'");
}

SourceLocation YamlMap::KeyWhere(const std::string& key) const {
  if (auto it = key_where_.find(key); it != key_where_.end()) return it->second;
  return self_.where();
}

std::string NearestWord(const std::string& word, const std::vector<std::string>& known) {
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      cur[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
      }
      std::swap(prev, cur);
    }
    return prev[b.size()];
  };
  std::string best;
  size_t best_d = 3;
  for (const auto& k : known) {
    size_t d = distance(word, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best;
}

std::string QuotedForMessage(const std::string& text) {
  constexpr size_t kShown = 60;
  bool cut = text.size() > kShown;
  std::string out = "\"";
  for (size_t i = 0; i < (cut ? kShown - 3 : text.size()); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + (cut ? "...\"" : "\"");
}

YAML::Node LoadYamlFile(const std::filesystem::path& file, const std::string& shown_name) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ScenarioError({shown_name, 0, 0}, "cannot open the file");
  const std::string limit = std::to_string(kMaxScenarioFileBytes) + " (" +
                            std::to_string(kMaxScenarioFileBytes / 1024) + " KiB)";
  std::error_code ec;
  if (std::filesystem::is_regular_file(file, ec)) {
    auto size = std::filesystem::file_size(file, ec);
    if (!ec && size > kMaxScenarioFileBytes) {
      throw ScenarioError({shown_name, 0, 0}, "the file is " + std::to_string(size) +
                                                  " bytes; a scenario may be at most " + limit +
                                                  ", so it is not parsed");
    }
  }
  // Read at most one byte past the cap: a device or pipe has no size to check.
  std::string text(kMaxScenarioFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) throw ScenarioError({shown_name, 0, 0}, "cannot read the file");
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxScenarioFileBytes) {
    throw ScenarioError({shown_name, 0, 0},
                        "the file is more than " + std::to_string(kMaxScenarioFileBytes) +
                            " bytes (" + std::to_string(kMaxScenarioFileBytes / 1024) +
                            " KiB), the most a scenario may be, so it is not parsed");
  }
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ScenarioError(Locate(shown_name, e.mark), "YAML syntax error: " + e.msg);
  }
}

}  // namespace cpuhp
