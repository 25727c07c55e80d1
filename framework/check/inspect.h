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
// Reading and comparing the views lives here (testable, reusable by other
// commands); the command line, its parsing and its exit codes are
// cli/inspect_command.h's.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "check/checker.h"
#include "guest/agent_client.h"
#include "qmp/qmp_client.h"

namespace cpuhp {

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
// Connects to the VM's QMP and agent sockets and handshakes with both
// within `timeout`, then Inspect()s it with four times that for the guest's
// snapshot. Throws what the connections and Inspect() throw.
Inspection InspectRunningVm(const std::filesystem::path& qmp_socket,
                            const std::filesystem::path& qga_socket, const CheckOptions& options,
                            Clock::duration timeout);

// The human-readable report: a summary of each side, one table row per
// slot (with the guest CPU it maps to) and per unmatched guest CPU, then each
// invariant's verdict.
std::string FormatInspection(const Inspection& inspection);
// {"host": ..., "guest": ..., "mapping": ..., "check": ..., "snapshot_seconds": ...}
nlohmann::json ToJson(const Inspection& inspection);

}  // namespace cpuhp
