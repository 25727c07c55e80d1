#include "cli/inspect_command.h"

#include <iostream>

#include "check/inspect.h"

namespace cpuhp {

int RunInspectCommand(const std::vector<std::string>& args) {
  return RunInspect(args, std::cout, std::cerr);
}

}  // namespace cpuhp
