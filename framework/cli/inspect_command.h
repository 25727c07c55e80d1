// `cpuhp inspect`: both views of a running VM's vCPUs and the checker's
// verdict (see check/inspect.h for what it prints and how to start the VM).
#pragma once

#include <string>
#include <vector>

namespace cpuhp {

// `args` are the words after `inspect`. Returns the process exit code: 0
// consistent, 1 inconsistent, 2 usage or connection error.
int RunInspectCommand(const std::vector<std::string>& args);

}  // namespace cpuhp
