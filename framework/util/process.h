// A child process that cannot outlive cpuhp.
//
// Process::Spawn() forks and execs with the child in its own process group and
// PR_SET_PDEATHSIG=SIGKILL, so that when cpuhp dies for any reason (SIGKILL
// included) its QEMU children die too. The child gets stdin, stdout, stderr
// and the fds named in inherit_fds, nothing else (whatever cpuhp has open, with
// or without CLOEXEC, stays out of QEMU). The destructor kills the whole group
// and reaps it. Exit is observed through a pidfd, so waiting is a poll(2) with
// a deadline, never a sleep loop; signals go through the pidfd too, so they
// can never reach a process that reused a reaped pid.
//
// PR_SET_PDEATHSIG fires when the *thread* that forked exits: spawn from a
// thread that outlives the child (the runner's worker threads do).
//
//   Process qemu = Process::Spawn({.argv = {"qemu-system-x86_64", ...},
//                                  .output = run_dir / "qemu.log"});
//   if (auto status = qemu.Wait(Deadline::After(5s))) ...
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "util/deadline.h"
#include "util/exit_status.h"
#include "util/fd.h"

namespace cpuhp {

// How long a process may take to be gone after SIGKILL before cpuhp stops
// waiting and leaves it unreaped: freeing a large guest's memory takes
// seconds; a process still there after this is stuck in the kernel (D state:
// NFS, vfio, a hung block device) and waiting longer would hang the run.
inline constexpr seconds kReapAfterKillTimeout{10};

struct ProcessOptions {
  std::vector<std::string> argv;
  // stdout and stderr go here (appended); empty means /dev/null.
  std::filesystem::path output = {};
  // Extra environment entries "NAME=value" on top of ours.
  std::vector<std::string> env = {};
  // fds the child inherits at the same numbers (their CLOEXEC is cleared in
  // the child); every other fd above stderr is closed at exec.
  std::vector<int> inherit_fds = {};
};

class Process {
 public:
  // Throws LaunchError if the program cannot be executed (errno from exec is reported).
  static Process Spawn(const ProcessOptions& options);

  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  // Kills the process group with SIGKILL and reaps it (waiting at most
  // kReapAfterKillTimeout), if still running.
  ~Process();

  pid_t pid() const { return pid_; }
  // Readable when the process has exited.
  int pidfd() const { return pidfd_.get(); }
  bool Running();
  // Waits for exit until the deadline. Returns the status, or nullopt on timeout.
  std::optional<ExitStatus> Wait(const Deadline& deadline);
  // Waits at most `budget` for a process that was sent SIGKILL. On timeout
  // logs a warning naming the pid (stuck in D state) and returns nullopt: the
  // process is left unreaped rather than hanging the caller.
  std::optional<ExitStatus> WaitAfterKill(Clock::duration budget = kReapAfterKillTimeout);
  // The status once reaped.
  const std::optional<ExitStatus>& status() const { return status_; }
  // Sends `sig` to the whole process group; nothing once the process is reaped.
  void SignalGroup(int sig);
  // SIGTERM, wait `grace`, then SIGKILL and WaitAfterKill(). Returns how it
  // ended; nullopt when it outlived SIGKILL.
  std::optional<ExitStatus> Terminate(Clock::duration grace);

 private:
  Process(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
  bool TryReap();
  void KillAndReap() noexcept;

  pid_t pid_ = -1;
  UniqueFd pidfd_;
  std::optional<ExitStatus> status_;
};

// pidfd helpers, for code that signals processes it did not spawn itself
// (cli's interrupt handler). A pidfd keeps naming the same process after it
// dies: a signal through it never reaches a process that reused the pid.

// A pidfd for `pid`; empty when no such process exists.
UniqueFd OpenPidfd(pid_t pid);
// True when the process behind `pidfd` is a child of ours that is not yet
// reaped (a zombie counts): its pid, and its group id if it leads a group,
// are still its own.
bool IsUnreapedChild(int pidfd);
// Sends `sig` to the process behind `pidfd`. False when it is gone.
bool SignalPidfd(int pidfd, int sig);
// Sends `sig` to the process group led by the process behind `pidfd`
// (`leader` is its pid): through the pidfd on Linux 6.9+, which names the
// group itself, so even stragglers of a reaped leader are reached and a
// recycled group id never is; on older kernels by kill(-leader) and only
// while the leader is an unreaped child. False when nothing was signalled.
bool SignalProcessGroup(int pidfd, pid_t leader, int sig);

}  // namespace cpuhp
