// `cpuhp inspect`: both views of a running VM's vCPUs and the checker's
// verdict (see check/inspect.h for what it prints and how to start the VM).
// This is the command line: its words, its usage text and its exit codes;
// the reading and comparing is check/inspect.h's.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "util/deadline.h"

namespace cpuhp {

struct InspectOptions {
  std::string qmp_socket;
  std::string qga_socket;
  bool json = false;
  // --maxcpus N: what the VM is meant to have (checked against QEMU and the guest).
  std::optional<int> maxcpus;
  // --only a,b: the invariants to evaluate (all by default).
  std::vector<std::string> only;
  // --timeout SECONDS: for connecting and for each read (scaled by CPUHP_TIMEOUT_SCALE).
  Clock::duration timeout = kAgentTimeout;
};

// Parses the words after `inspect`. On bad usage returns nullopt and sets
// *error to what was wrong.
std::optional<InspectOptions> ParseInspectArgs(const std::vector<std::string>& args,
                                               std::string* error);
std::string InspectUsage();

// The whole command: returns 0 when consistent, 1 when not, 2 on bad usage or
// when the VM cannot be reached or read (the reason goes to `err`).
int RunInspect(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// `args` are the words after `inspect`: RunInspect() on std::cout and std::cerr.
int RunInspectCommand(const std::vector<std::string>& args);

}  // namespace cpuhp
