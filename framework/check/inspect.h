// `cpuhp inspect`: QEMU's and the guest's views of the vCPUs of a running VM,
// side by side, and the checker's verdict.
//
// It attaches as a client to a VM started by hand the way kernel developers
// run theirs, with QEMU listening on both sockets:
//   -chardev socket,id=qmp0,path=/tmp/vm.qmp,server=on,wait=off -mon chardev=qmp0,mode=control
//   -chardev socket,id=qga0,path=/tmp/vm.qga,server=on,wait=off
//   -device virtserialport,chardev=qga0,name=org.qemu.guest_agent.0
// (BuildCommandLine(spec, accel, paths, SocketMode::kQemuListens) writes these.)
//
//   $ cpuhp inspect --qmp /tmp/vm.qmp --qga /tmp/vm.qga
//   $ cpuhp inspect --qmp /tmp/vm.qmp --qga /tmp/vm.qga --json | jq .check.passed
//
// The logic lives in the library (testable, reusable by other commands); the
// CLI's inspect_command.cc only hands it std::cout and std::cerr.
#pragma once

#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "check/checker.h"
#include "guest/agent_client.h"
#include "qmp/qmp_client.h"

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

// Both views, the verdict, and how long the guest snapshot took to read.
struct Inspection {
  HostView host;
  GuestSnapshot guest;
  CheckResult result;
  Clock::duration snapshot_time{};
};

// Reads both views and checks them. Throws what ReadHostView and
// ReadGuestSnapshot throw, and Error for an unknown invariant in `options.only`.
Inspection Inspect(QmpLink& qmp, AgentLink& agent, const CheckOptions& options,
                   const Deadline& deadline);

// The human-readable report: a summary of each side, one table row per
// slot (with the guest CPU it maps to) and per unmatched guest CPU, then each
// invariant's verdict.
std::string FormatInspection(const Inspection& inspection);
// {"host": ..., "guest": ..., "mapping": ..., "check": ..., "snapshot_seconds": ...}
nlohmann::json ToJson(const Inspection& inspection);

// The whole command: returns 0 when consistent, 1 when not, 2 on bad usage or
// when the VM cannot be reached or read (the reason goes to `err`).
int RunInspect(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace cpuhp
