// A private libvirtd for cpuhp: the daemon the libvirt backend and its tests
// use when no libvirt URI is given.
//
// A root libvirtd's state paths are fixed at build time (/run/libvirt,
// /var/lib/libvirt, /etc/libvirt ...), so two of them collide and one of
// them would be the host's. Each LibvirtDaemon therefore runs in its own mount
// and PID namespace (`unshare -m -p -f --kill-child`) where a tmpfs covers
// /run and /var/{lib,cache,log}/libvirt and /etc/libvirt are bind mounts of
// its private directory; a small sh is PID 1 there (libvirtd as PID 1 never
// reaps QEMU's capability probes: a 161 s start). Its confs: unix socket in
// the private directory, no auth, stdio_handler "file" (no virtlogd), root
// QEMU without namespaces, cgroups or a security driver, and a host_uuid of
// its own (migration between two daemons refuses equal ones).
//
// Guarantees: nothing it starts outlives it. unshare is a cpuhp Process (own
// process group, PR_SET_PDEATHSIG), and --kill-child takes the namespace's
// PID 1 with it, which takes libvirtd and every QEMU in the namespace: a
// SIGKILLed cpuhp leaves no libvirtd and no QEMU. The host's /run/libvirt is
// never touched. QEMU's capability cache is kept between runs (under the
// build tree), so a warm start takes ~0.2 s instead of ~1.7 s.
//
//   LibvirtDaemon daemon({.log_dir = artifacts / "libvirt"}, Deadline::After(kLibvirtdStartTimeout));
//   LibvirtConnect conn = OpenLibvirt(daemon.uri());   // qemu+unix:///system?socket=...
//   ...
//   daemon.Stop();   // or the destructor
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "util/deadline.h"
#include "util/process.h"
#include "util/temp_dir.h"
#include "vm/libvirt_error.h"

namespace cpuhp {

// Start to answering: ~1.7 s cold (QEMU capability probes), ~0.2 s warm, on
// an idle host; a loaded 2-core TCG host needs more.
inline constexpr seconds kLibvirtdStartTimeout{60};

struct LibvirtDaemonOptions {
  // Where /var/log/libvirt goes (libvirtd.log, qemu/<domain>.log); empty: the
  // private directory, gone with the daemon.
  std::filesystem::path log_dir = {};
  // QEMU's capability cache, kept between daemons; empty: DefaultLibvirtCacheDir().
  std::filesystem::path cache_dir = {};
  // Distinct per daemon that will migrate to another; empty: a random one.
  std::string host_uuid = {};
};

// $CPUHP_LIBVIRT_CACHE, else <build tree>/libvirt-cache.
std::filesystem::path DefaultLibvirtCacheDir();

// Why a private libvirtd cannot run here ("libvirtd not found", "unshare
// -m -p not permitted: ..."), or "" when it can: tests skip with this.
std::string LibvirtDaemonUnavailableReason();

class LibvirtDaemon {
 public:
  // Starts the daemon and waits until it answers (socket, connect, version).
  // Throws LaunchError (libvirtd.log's tail) or TimeoutError; either way
  // nothing is left running.
  LibvirtDaemon(const LibvirtDaemonOptions& options, const Deadline& deadline);
  ~LibvirtDaemon();
  LibvirtDaemon(const LibvirtDaemon&) = delete;
  LibvirtDaemon& operator=(const LibvirtDaemon&) = delete;

  // qemu+unix:///system?socket=<private dir>/sock/libvirt-sock
  const std::string& uri() const { return uri_; }
  // The unshare process (its group holds the whole namespace).
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  bool Running() { return process_ && process_->Running(); }
  const std::filesystem::path& log_dir() const { return log_dir_; }
  // SIGTERM to libvirtd's namespace (libvirtd shuts down cleanly), then
  // SIGKILL of the group. Never throws; safe to call twice.
  void Stop() noexcept;

 private:
  void WaitUntilAnswering(const Deadline& deadline);
  [[noreturn]] void FailStart(const std::string& why);

  TempDir root_;
  std::filesystem::path log_dir_;
  std::string uri_;
  std::optional<Process> process_;
  // The namespace's PID 1 (sh), unshare's child: it is reported gone only
  // after every process of the namespace is.
  UniqueFd init_pidfd_;
};

}  // namespace cpuhp
