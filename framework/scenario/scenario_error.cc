#include "scenario/scenario_error.h"

namespace cpuhp {

std::string SourceLocation::ToString() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

ScenarioError::ScenarioError(SourceLocation where, std::string message)
    : Error(where.ToString() + ": " + message),
      where_(std::move(where)),
      detail_(std::move(message)) {}

}  // namespace cpuhp
