// How a process ended: what Process::Wait() returns and what a LaunchError
// keeps of a QEMU that died.
#pragma once

#include <string>

namespace cpuhp {

struct ExitStatus {
  int code = -1;    // exit code, or -1 when killed by a signal
  int signal = 0;   // the signal that killed it, or 0
  bool Success() const { return code == 0; }
  std::string Describe() const;  // "exit code 1" / "killed by signal 9 (Killed)"
};

}  // namespace cpuhp
