#include "util/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/error.h"

extern char** environ;

namespace cpuhp {

std::string ExitStatus::Describe() const {
  if (signal != 0) {
    return "killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  }
  return "exit code " + std::to_string(code);
}

namespace {

int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

[[noreturn]] void ChildFail(int report_fd, int err) {
  ssize_t ignored = ::write(report_fd, &err, sizeof err);
  (void)ignored;
  ::_exit(127);
}

}  // namespace

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
    if (::dup2(out.get(), STDOUT_FILENO) < 0 || ::dup2(out.get(), STDERR_FILENO) < 0) {
      ChildFail(report_write.get(), errno);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
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
  UniqueFd pidfd(PidfdOpen(pid));
  int open_errno = errno;
  Process proc(pid, std::move(pidfd));
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(report_read.get(), &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  if (n == sizeof child_errno) {
    proc.Wait(Deadline::Never());
    throw LaunchError("cannot execute " + options.argv[0] + ": " + std::strerror(child_errno));
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

void Process::SignalGroup(int sig) {
  if (pid_ <= 0 || status_) return;
  // The group may hold helpers QEMU forked; kill them all.
  if (::kill(-pid_, sig) != 0) ::kill(pid_, sig);
}

ExitStatus Process::Terminate(Clock::duration grace) {
  SignalGroup(SIGTERM);
  if (auto s = Wait(Deadline::AfterUnscaled(grace))) return *s;
  SignalGroup(SIGKILL);
  return *Wait(Deadline::Never());
}

void Process::KillAndReap() noexcept {
  if (pid_ <= 0) return;
  if (!status_) {
    ::kill(-pid_, SIGKILL);
    ::kill(pid_, SIGKILL);
    try {
      Wait(Deadline::Never());
    } catch (...) {
    }
  } else {
    ::kill(-pid_, SIGKILL);  // stragglers in the group
  }
  pid_ = -1;
}

}  // namespace cpuhp
