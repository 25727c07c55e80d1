// The command line of one cpuhp subcommand: flags (--name, --name=value,
// --name value) and positional arguments; "--" ends the flags.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "scenario/targets.h"
#include "util/error.h"

namespace cpuhp {

// A bad command line: printed with the usage, exit code 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

struct CliArgs {
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>> values;  // flag -> values, in order
  std::set<std::string> flags;                             // boolean flags given

  bool Has(const std::string& flag) const { return flags.count(flag) || values.count(flag); }
  // The last value given for `flag`.
  std::optional<std::string> Value(const std::string& flag) const;
  const std::vector<std::string>& Values(const std::string& flag) const;
  // A positive integer value; throws UsageError.
  std::optional<int> IntValue(const std::string& flag) const;
};

// `value_flags` take a value, `bool_flags` do not (names without "--"; a
// one-letter name is also accepted as "-x"). Throws UsageError on unknown
// flags and missing values.
CliArgs ParseCliArgs(const std::vector<std::string>& args, const std::set<std::string>& value_flags,
                     const std::set<std::string>& bool_flags);

// The --target AXIS=V,V.. flags (and --qemu V, --kernel V, one value each),
// one axis per name, in the order first given. Throws UsageError.
std::vector<TargetAxis> TargetArgs(const CliArgs& args);

}  // namespace cpuhp
