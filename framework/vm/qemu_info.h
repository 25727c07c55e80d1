// What a QEMU binary says about itself, asked over QMP (query-version).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "util/deadline.h"
#include "util/fd.h"
#include "util/process.h"

namespace cpuhp {

// How long a QEMU asked to quit (or killed) may take to be gone.
inline constexpr seconds kQemuQuitTimeout{5};

// Accepts the connection QEMU makes to `listen_fd` while it starts. An empty
// fd when QEMU exited first (then reaped: qemu.status() says how) or the
// deadline passed: the caller says which it was.
UniqueFd AcceptFromQemu(int listen_fd, Process& qemu, const Deadline& deadline);

struct QemuVersion {
  int major = 0, minor = 0, micro = 0;
  std::string package;  // e.g. "Debian 1:7.2+dfsg-7+deb12u18"
  std::string ToString() const;  // "7.2.19"
};

// The answer of query-version; `who` names the QEMU in errors.
QemuVersion ParseQueryVersion(const nlohmann::json& reply, const std::string& who);

// Starts `qemu_binary` with no machine (-machine none), asks query-version
// over a private QMP socket and quits it. Throws LaunchError (QEMU cannot run,
// with its log) or TimeoutError; leaves nothing running.
QemuVersion QueryQemuVersion(const std::string& qemu_binary, const Deadline& deadline);
// QueryQemuVersion's deadline: QEMU without a machine answers in ~50 ms on
// an idle host.
inline constexpr seconds kQemuVersionTimeout{20};

}  // namespace cpuhp
