#include "util/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.h"
#include "util/log.h"

extern char** environ;

namespace cpuhp {

std::string ExitStatus::Describe() const {
  if (signal != 0) {
    return "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  }
  return "exit code " + std::to_string(code);
}

namespace {

// waitid's P_PIDFD (Linux 5.4, <linux/wait.h>), which glibc's idtype_t lacks.
constexpr idtype_t kWaitPidfd = static_cast<idtype_t>(3);
// pidfd_send_signal's PIDFD_SIGNAL_PROCESS_GROUP (Linux 6.9, <linux/pidfd.h>),
// newer than Debian 12's headers.
constexpr unsigned kPidfdSignalProcessGroup = 1U << 2;
// Where close_range(2) is missing (Linux < 5.11), the fds to mark CLOEXEC one
// by one are those below RLIMIT_NOFILE, at most this many.
constexpr rlim_t kMaxFdsToMarkOneByOne = 1 << 20;

int PidfdSendSignal(int pidfd, int sig, unsigned flags) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, flags));
}

[[noreturn]] void ChildFail(int report_fd, int err) {
  ssize_t ignored = ::write(report_fd, &err, sizeof err);
  (void)ignored;
  ::_exit(127);
}

// dup2 that also works when `from` already is `to` (dup2 would then leave
// its CLOEXEC set, and the child would lose the fd at exec).
int DupTo(int from, int to) {
  if (from != to) return ::dup2(from, to);
  int flags = ::fcntl(to, F_GETFD);
  return flags < 0 ? -1 : ::fcntl(to, F_SETFD, flags & ~FD_CLOEXEC);
}

// In the child, async-signal-safe: every fd above stderr closes at exec.
void MarkAllCloexec() {
  if (::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
  rlimit limit{};
  rlim_t max = kMaxFdsToMarkOneByOne;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < max) max = limit.rlim_cur;
  for (rlim_t fd = 3; fd < max; ++fd) {
    int flags = ::fcntl(static_cast<int>(fd), F_GETFD);
    if (flags >= 0) ::fcntl(static_cast<int>(fd), F_SETFD, flags | FD_CLOEXEC);
  }
}

}  // namespace

UniqueFd OpenPidfd(pid_t pid) { return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))); }

bool IsUnreapedChild(int pidfd) {
  siginfo_t info{};
  int rc;
  do {
    rc = ::waitid(kWaitPidfd, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG | WNOWAIT);
  } while (rc < 0 && errno == EINTR);
  return rc == 0;
}

bool SignalPidfd(int pidfd, int sig) { return PidfdSendSignal(pidfd, sig, 0) == 0; }

bool SignalProcessGroup(int pidfd, pid_t leader, int sig) {
  if (PidfdSendSignal(pidfd, sig, kPidfdSignalProcessGroup) == 0) return true;
  if (errno != EINVAL) return false;  // ESRCH: nobody is left in the group
  // A kernel before 6.9: the group id is the leader's pid, which cannot have
  // been reused while the leader (even a zombie) is unreaped.
  return IsUnreapedChild(pidfd) && ::kill(-leader, sig) == 0;
}

Process Process::Spawn(const ProcessOptions& options) {
  if (options.argv.empty()) throw LaunchError("empty command line");
  // Everything the child needs is prepared before fork: after it only
  // async-signal-safe calls are allowed.
  std::vector<char*> argv;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
  for (const auto& e : options.env) env_storage.push_back(e);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  UniqueFd out;
  if (options.output.empty()) {
    out.reset(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  } else {
    out.reset(::open(options.output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  }
  if (!out) throw SystemError("open " + options.output.string(), errno);

  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw SystemError("pipe2", errno);
  UniqueFd report_read(report[0]), report_write(report[1]);

  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw SystemError("fork", errno);
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // The parent may have died between fork() and prctl().
    if (::getppid() != parent) ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (DupTo(out.get(), STDOUT_FILENO) < 0 || DupTo(out.get(), STDERR_FILENO) < 0) {
      ChildFail(report_write.get(), errno);
    }
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || DupTo(devnull, STDIN_FILENO) < 0) ChildFail(report_write.get(), errno);
    if (devnull != STDIN_FILENO) ::close(devnull);
    // Whatever else is open (another run's transcript, a library's fd, with
    // or without CLOEXEC) stays out of the child; then the chosen ones go in.
    MarkAllCloexec();
    for (int fd : options.inherit_fds) {
      int flags = ::fcntl(fd, F_GETFD);
      if (flags < 0 || ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0) {
        ChildFail(report_write.get(), errno);
      }
    }
    ::execvpe(argv[0], argv.data(), envp.data());
    ChildFail(report_write.get(), errno);
  }
  report_write.reset();
  // The child is in its own group from its first instruction on our side too,
  // so that SignalGroup() can never hit cpuhp's own group.
  ::setpgid(pid, pid);
  UniqueFd pidfd = OpenPidfd(pid);
  int open_errno = errno;
  Process proc(pid, std::move(pidfd));
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(report_read.get(), &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  if (n == sizeof child_errno) {
    // The child is at its _exit(127); the destructor kills and reaps it if not.
    proc.Wait(Deadline::AfterUnscaled(kReapAfterKillTimeout));
    throw LaunchError("cannot execute " + options.argv[0] + ": " + std::strerror(child_errno),
                      {.command = options.argv});
  }
  if (!proc.pidfd_) throw SystemError("pidfd_open", open_errno);
  return proc;
}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::move(other.pidfd_)),
      status_(std::move(other.status_)) {}

Process& Process::operator=(Process&& other) noexcept {
  if (this != &other) {
    KillAndReap();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::move(other.pidfd_);
    status_ = std::move(other.status_);
  }
  return *this;
}

Process::~Process() { KillAndReap(); }

bool Process::TryReap() {
  if (status_) return true;
  if (pid_ < 0) return true;
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return false;
  ExitStatus s;
  if (r < 0) {
    s.code = -1;  // already reaped elsewhere: treat as gone
  } else if (WIFEXITED(st)) {
    s.code = WEXITSTATUS(st);
  } else if (WIFSIGNALED(st)) {
    s.signal = WTERMSIG(st);
  }
  status_ = s;
  return true;
}

bool Process::Running() { return !TryReap(); }

std::optional<ExitStatus> Process::Wait(const Deadline& deadline) {
  for (;;) {
    if (TryReap()) return status_;
    if (!pidfd_) return std::nullopt;
    if (PollOne(pidfd_.get(), POLLIN, deadline) == 0) {
      if (TryReap()) return status_;
      return std::nullopt;
    }
  }
}

std::optional<ExitStatus> Process::WaitAfterKill(Clock::duration budget) {
  if (auto s = Wait(Deadline::AfterUnscaled(budget))) return s;
  LOG(kWarning, "process") << "pid " << pid_ << " is still there " << FormatDuration(budget)
                           << " after SIGKILL (stuck in the kernel, D state?); leaving it unreaped";
  return std::nullopt;
}

void Process::SignalGroup(int sig) {
  if (pid_ <= 0 || status_) return;
  if (!pidfd_) {
    ::kill(pid_, sig);  // unreaped, so the pid is still this child's
    return;
  }
  // The group may hold helpers QEMU forked; kill them all.
  if (!SignalProcessGroup(pidfd_.get(), pid_, sig)) SignalPidfd(pidfd_.get(), sig);
}

std::optional<ExitStatus> Process::Terminate(Clock::duration grace) {
  SignalGroup(SIGTERM);
  if (auto s = Wait(Deadline::AfterUnscaled(grace))) return s;
  SignalGroup(SIGKILL);
  return WaitAfterKill();
}

void Process::KillAndReap() noexcept {
  if (pid_ <= 0) return;
  try {
    if (!status_) {
      SignalGroup(SIGKILL);
      WaitAfterKill();
    }
    // Stragglers the leader left in its group. Through the pidfd only: after
    // the leader was reaped its pid, the group id, may belong to anyone.
    if (pidfd_) SignalProcessGroup(pidfd_.get(), pid_, SIGKILL);
  } catch (...) {
  }
  pid_ = -1;
}

}  // namespace cpuhp
