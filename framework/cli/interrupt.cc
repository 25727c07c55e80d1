#include "cli/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "util/process.h"

namespace cpuhp {
namespace {

sigset_t InterruptSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

// The parent pid in /proc/PID/stat ("pid (comm) state ppid ..."; comm may hold spaces).
pid_t ParentOf(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string stat;
  std::getline(in, stat);
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  char state = 0;
  int ppid = -1;
  if (std::sscanf(stat.c_str() + close + 1, " %c %d", &state, &ppid) != 2) return -1;
  return ppid;
}

}  // namespace

int KillChildProcessGroups() {
  pid_t self = ::getpid();
  int killed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (ParentOf(name) != self) continue;
    pid_t pid = std::stoi(name);
    // A worker thread may reap this child at any moment and the pid be
    // reused: from here on the child is named by a pidfd, which is checked
    // to be our unreaped child before anything is signalled.
    UniqueFd pidfd = OpenPidfd(pid);
    if (!pidfd || !IsUnreapedChild(pidfd.get())) continue;
    // Process::Spawn makes each child the leader of its own group (QEMU's
    // helpers included); never signal our own group.
    pid_t group = ::getpgid(pid);
    if (group == pid && group != ::getpgrp()) SignalProcessGroup(pidfd.get(), pid, SIGKILL);
    SignalPidfd(pidfd.get(), SIGKILL);
    ++killed;
  }
  return killed;
}

InterruptHandler::InterruptHandler() {
  sigset_t set = InterruptSignals();
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  thread_ = std::thread([this] { Loop(); });
}

InterruptHandler::~InterruptHandler() {
  stopping_ = true;
  thread_.join();
  sigset_t set = InterruptSignals();
  ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

void InterruptHandler::Loop() {
  sigset_t set = InterruptSignals();
  timespec tick{0, 200 * 1000 * 1000};
  while (!stopping_) {
    int sig = ::sigtimedwait(&set, nullptr, &tick);
    if (sig > 0) {
      if (cancelled_) {
        static const char kMsg[] = "\ncpuhp: second interrupt, exiting now\n";
        ssize_t ignored = ::write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
        (void)ignored;
        KillChildProcessGroups();
        ::_exit(128 + sig);
      }
      signal_ = sig;
      cancelled_ = true;
      std::fprintf(stderr, "\ncpuhp: %s: stopping every VM (again to exit at once)\n",
                   sig == SIGINT ? "interrupted" : "terminated");
    }
    if (cancelled_) KillChildProcessGroups();
  }
}

}  // namespace cpuhp
