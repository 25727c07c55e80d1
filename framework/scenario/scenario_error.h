// Errors in scenario files, located to the character.
//
// Every problem found in a scenario (bad YAML, unknown key, wrong type, a
// topology QEMU would refuse, a step that cannot succeed) is reported before
// any VM starts, as `file:line:col: message` with 1-based line and column,
// the way compilers do, so that editors and CI logs can jump to it.
#pragma once

#include <filesystem>
#include <string>

#include "util/error.h"

namespace cpuhp {

// A place in a scenario file; line and column are 1-based (0: unknown).
struct SourceLocation {
  std::string file;
  int line = 0;
  int column = 0;
  // "file:line:col", or "file" when the position is unknown.
  std::string ToString() const;
  bool operator==(const SourceLocation&) const = default;
};

class ScenarioError : public Error {
 public:
  ScenarioError(SourceLocation where, std::string message);
  const SourceLocation& where() const { return where_; }
  // The message without the location prefix.
  const std::string& detail() const { return detail_; }

 private:
  SourceLocation where_;
  std::string detail_;
};

}  // namespace cpuhp
