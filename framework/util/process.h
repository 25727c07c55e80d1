// A child process that cannot outlive cpuhp.
//
// Process::Spawn() forks and execs with the child in its own process group and
// PR_SET_PDEATHSIG=SIGKILL, so that when cpuhp dies for any reason (SIGKILL
// included) its QEMU children die too. The destructor kills the whole group and
// reaps it. Exit is observed through a pidfd, so waiting is a poll(2) with a
// deadline, never a sleep loop.
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
#include "util/fd.h"

namespace cpuhp {

struct ProcessOptions {
  std::vector<std::string> argv;
  // stdout and stderr go here (appended); empty means /dev/null.
  std::filesystem::path output = {};
  // Extra environment entries "NAME=value" on top of ours.
  std::vector<std::string> env = {};
  // fds the child inherits at the same numbers (their CLOEXEC is cleared in the child).
  std::vector<int> inherit_fds = {};
};

// How a process ended.
struct ExitStatus {
  int code = -1;    // exit code, or -1 when killed by a signal
  int signal = 0;   // the signal that killed it, or 0
  bool Success() const { return code == 0; }
  std::string Describe() const;  // "exit code 1" / "killed by signal 9 (Killed)"
};

class Process {
 public:
  // Throws LaunchError if the program cannot be executed (errno from exec is reported).
  static Process Spawn(const ProcessOptions& options);

  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  // Kills the process group with SIGKILL and reaps it, if still running.
  ~Process();

  pid_t pid() const { return pid_; }
  // Readable when the process has exited.
  int pidfd() const { return pidfd_.get(); }
  bool Running();
  // Waits for exit until the deadline. Returns the status, or nullopt on timeout.
  std::optional<ExitStatus> Wait(const Deadline& deadline);
  // The status once reaped.
  const std::optional<ExitStatus>& status() const { return status_; }
  // Sends `sig` to the whole process group.
  void SignalGroup(int sig);
  // SIGTERM, wait `grace`, then SIGKILL; always reaps. Returns how it ended.
  ExitStatus Terminate(Clock::duration grace);

 private:
  Process(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}
  bool TryReap();
  void KillAndReap() noexcept;

  pid_t pid_ = -1;
  UniqueFd pidfd_;
  std::optional<ExitStatus> status_;
};

}  // namespace cpuhp
