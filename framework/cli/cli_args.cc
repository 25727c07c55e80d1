#include "cli/cli_args.h"

#include <algorithm>
#include <charconv>

#include "util/text.h"

namespace cpuhp {

std::optional<std::string> CliArgs::Value(const std::string& flag) const {
  auto it = values.find(flag);
  if (it == values.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

const std::vector<std::string>& CliArgs::Values(const std::string& flag) const {
  static const std::vector<std::string> kNone;
  auto it = values.find(flag);
  return it == values.end() ? kNone : it->second;
}

std::optional<int> CliArgs::IntValue(const std::string& flag) const {
  auto v = Value(flag);
  if (!v) return std::nullopt;
  int n = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || ptr != v->data() + v->size() || n < 1) {
    throw UsageError("--" + flag + " takes a positive number, not \"" + *v + "\"");
  }
  return n;
}

CliArgs ParseCliArgs(const std::vector<std::string>& args, const std::set<std::string>& value_flags,
                     const std::set<std::string>& bool_flags) {
  CliArgs out;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (flags_done || a.size() < 2 || a[0] != '-') {
      out.positional.push_back(a);
      continue;
    }
    if (a == "--") {
      flags_done = true;
      continue;
    }
    std::string name = a.substr(a[1] == '-' ? 2 : 1);
    std::optional<std::string> inline_value;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (a[1] != '-' && name.size() != 1) throw UsageError("unknown option " + a);
    if (value_flags.count(name)) {
      if (inline_value) {
        out.values[name].push_back(*inline_value);
      } else if (i + 1 < args.size()) {
        out.values[name].push_back(args[++i]);
      } else {
        throw UsageError("option --" + name + " needs a value");
      }
    } else if (bool_flags.count(name)) {
      if (inline_value) throw UsageError("option --" + name + " takes no value");
      out.flags.insert(name);
    } else {
      throw UsageError("unknown option " + a);
    }
  }
  return out;
}

namespace {

// "qemu=7.2,10.0"
TargetAxis ParseTargetArg(const std::string& text) {
  size_t eq = text.find('=');
  TargetAxis axis{text.substr(0, eq == std::string::npos ? text.size() : eq), {}};
  if (eq == std::string::npos || eq + 1 == text.size()) {
    throw UsageError("--target takes AXIS=VALUE[,VALUE...], e.g. qemu=7.2,10.0; got \"" + text +
                     "\"");
  }
  std::string values = text.substr(eq + 1);
  for (size_t start = 0; start <= values.size();) {
    size_t comma = std::min(values.find(',', start), values.size());
    std::string v = values.substr(start, comma - start);
    if (v.empty()) throw UsageError("--target " + text + ": an empty value");
    axis.values.push_back(v);
    start = comma + 1;
  }
  return axis;
}

// One axis per name: a second --target for it adds its values.
void AddTarget(std::vector<TargetAxis>& targets, TargetAxis axis) {
  bool known = false;
  for (const char* name : kTargetAxisNames) known = known || axis.name == name;
  if (!known) {
    throw UsageError("--target: no axis \"" + axis.name + "\"; axes: " + Join(kTargetAxisNames));
  }
  for (auto& t : targets) {
    if (t.name != axis.name) continue;
    for (auto& v : axis.values) {
      if (std::find(t.values.begin(), t.values.end(), v) == t.values.end()) t.values.push_back(v);
    }
    return;
  }
  targets.push_back(std::move(axis));
}

}  // namespace

std::vector<TargetAxis> TargetArgs(const CliArgs& args) {
  std::vector<TargetAxis> targets;
  for (const auto& t : args.Values("target")) AddTarget(targets, ParseTargetArg(t));
  for (const char* axis : {"qemu", "kernel"}) {
    for (const auto& v : args.Values(axis)) AddTarget(targets, {axis, {v}});
  }
  // One order for labels and tables, whichever flag came first.
  auto rank = [](const TargetAxis& a) {
    return std::find_if(std::begin(kTargetAxisNames), std::end(kTargetAxisNames),
                        [&](const char* n) { return a.name == n; }) -
           std::begin(kTargetAxisNames);
  };
  std::stable_sort(targets.begin(), targets.end(),
                   [&](const TargetAxis& a, const TargetAxis& b) { return rank(a) < rank(b); });
  return targets;
}

}  // namespace cpuhp
