#include "util/process.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/sched.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "util/error.h"
#include "util/file.h"
#include "util/temp_dir.h"

namespace cpuhp {
namespace {

bool Alive(pid_t pid) { return ::kill(pid, 0) == 0; }

TEST(ProcessTest, ExitCodeAndOutputAreCaptured) {
  TempDir dir(std::filesystem::temp_directory_path(), "cpuhp-test-");
  auto log = dir.path() / "out.log";
  Process p = Process::Spawn({.argv = {"sh", "-c", "echo hello; exit 3"}, .output = log});
  auto status = p.Wait(Deadline::After(std::chrono::seconds(10)));
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 3);
  EXPECT_EQ(ReadFileToString(log), "hello\n");
}

TEST(ProcessTest, MissingProgramIsALaunchErrorNamingIt) {
  try {
    Process::Spawn({.argv = {"/nonexistent/qemu-system-x86_64"}});
    FAIL() << "expected LaunchError";
  } catch (const LaunchError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/qemu-system-x86_64"), std::string::npos);
    EXPECT_EQ(e.details().command, std::vector<std::string>{"/nonexistent/qemu-system-x86_64"});
  }
}

TEST(ProcessTest, WaitTimesOutOnARunningProcess) {
  Process p = Process::Spawn({.argv = {"sleep", "30"}});
  EXPECT_FALSE(p.Wait(Deadline::AfterUnscaled(std::chrono::milliseconds(100))));
  EXPECT_TRUE(p.Running());
}

TEST(ProcessTest, DestructorKillsTheWholeProcessGroup) {
  TempDir dir(std::filesystem::temp_directory_path(), "cpuhp-test-");
  auto pidfile = dir.path() / "child.pid";
  pid_t grandchild = -1;
  {
    Process p = Process::Spawn(
        {.argv = {"sh", "-c", "sleep 60 & echo $! > " + pidfile.string() + "; wait"}});
    for (int i = 0; i < 100 && !std::filesystem::exists(pidfile); ++i) ::usleep(20000);
    std::ifstream(pidfile) >> grandchild;
    ASSERT_GT(grandchild, 0);
    ASSERT_TRUE(Alive(grandchild));
  }
  // The grandchild was in the group: killed. Reaped by init, so poll briefly.
  for (int i = 0; i < 100 && Alive(grandchild); ++i) ::usleep(20000);
  EXPECT_FALSE(Alive(grandchild));
}

TEST(ProcessTest, TerminateEscalatesToSigkill) {
  Process p = Process::Spawn({.argv = {"sh", "-c", "trap '' TERM; sleep 30"}});
  ::usleep(100000);  // let the shell install its trap
  std::optional<ExitStatus> s = p.Terminate(std::chrono::milliseconds(300));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->signal, SIGKILL);
}

TEST(ProcessTest, ChildDiesWithItsParent) {
  // A middle process spawns a sleeper through Process and is SIGKILLed
  // without running any destructor: PR_SET_PDEATHSIG must take the sleeper.
  int pipefd[2];
  ASSERT_EQ(::pipe(pipefd), 0);
  pid_t middle = ::fork();
  if (middle == 0) {
    ::close(pipefd[0]);
    Process p = Process::Spawn({.argv = {"sleep", "60"}});
    pid_t pid = p.pid();
    (void)!::write(pipefd[1], &pid, sizeof pid);
    ::pause();
    ::_exit(0);
  }
  ::close(pipefd[1]);
  pid_t sleeper = -1;
  ASSERT_EQ(::read(pipefd[0], &sleeper, sizeof sleeper), static_cast<ssize_t>(sizeof sleeper));
  ::close(pipefd[0]);
  ASSERT_TRUE(Alive(sleeper));
  ::kill(middle, SIGKILL);
  ::waitpid(middle, nullptr, 0);
  for (int i = 0; i < 100 && Alive(sleeper); ++i) ::usleep(20000);
  EXPECT_FALSE(Alive(sleeper));
}

TEST(ProcessTest, ChildHasOnlyStdioAndTheInheritedFds) {
  // Whatever cpuhp has open without CLOEXEC (another run's transcript, a
  // library's fd) must not reach QEMU.
  TempDir dir(std::filesystem::temp_directory_path(), "cpuhp-test-");
  auto leaked = dir.path() / "leak-marker";
  UniqueFd leak(::open(leaked.c_str(), O_WRONLY | O_CREAT, 0644));  // no O_CLOEXEC on purpose
  ASSERT_TRUE(leak);
  int pipefd[2];
  ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
  UniqueFd pipe_read(pipefd[0]), pipe_write(pipefd[1]);
  auto log = dir.path() / "fds.log";
  Process p = Process::Spawn({.argv = {"ls", "-l", "/proc/self/fd"},
                              .output = log,
                              .inherit_fds = {pipe_write.get()}});
  auto status = p.Wait(Deadline::After(std::chrono::seconds(10)));
  ASSERT_TRUE(status && status->Success());
  const std::string fds = ReadFileToString(log);
  EXPECT_EQ(fds.find("leak-marker"), std::string::npos) << fds;
  size_t devnull = 0;
  for (size_t pos = fds.find("/dev/null"); pos != std::string::npos; pos = fds.find("/dev/null", pos + 1)) {
    ++devnull;
  }
  EXPECT_EQ(devnull, 1u) << "only stdin is /dev/null:\n" << fds;
  EXPECT_NE(fds.find(" " + std::to_string(pipe_write.get()) + " -> pipe:["), std::string::npos) << fds;
}

TEST(ProcessTest, WaitAfterKillGivesUpOnAProcessThatDoesNotDieAndSaysSo) {
  // A QEMU stuck in D state outlives SIGKILL; a stopped process stands in
  // for one (no SIGKILL is sent here, so it stays).
  Process p = Process::Spawn({.argv = {"sleep", "60"}});
  p.SignalGroup(SIGSTOP);
  const Clock::time_point t0 = Clock::now();
  ::testing::internal::CaptureStderr();
  std::optional<ExitStatus> s = p.WaitAfterKill(std::chrono::milliseconds(200));
  const std::string warning = ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(s);
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(10));  // a hard bound, not a timing claim
  EXPECT_NE(warning.find("pid " + std::to_string(p.pid())), std::string::npos) << warning;
  EXPECT_NE(warning.find("unreaped"), std::string::npos) << warning;
  EXPECT_TRUE(p.Running());
}

// clone3 with set_tid: a child with exactly pid `pid` (needs CAP_SYS_ADMIN
// over the pid namespace). Returns like fork().
pid_t ForkWithPid(pid_t pid) {
  clone_args args{};
  args.exit_signal = SIGCHLD;
  args.set_tid = reinterpret_cast<uint64_t>(&pid);
  args.set_tid_size = 1;
  return static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
}

TEST(ProcessTest, NoSignalReachesAProcessThatReusedAReapedPid) {
  // In a pid namespace of our own (as an unprivileged user namespace
  // allows), spawn and reap a child, start a group leader with the very same
  // pid, and destroy the Process: the impostor must live.
  int result[2];
  ASSERT_EQ(::pipe(result), 0);
  pid_t outer = ::fork();
  ASSERT_GE(outer, 0);
  if (outer == 0) {
    ::close(result[0]);
    auto report = [&](char c) {
      (void)!::write(result[1], &c, 1);
      ::_exit(0);
    };
    if (::unshare(CLONE_NEWUSER | CLONE_NEWPID) != 0) report('s');
    pid_t init = ::fork();  // pid 1 of the new namespace
    if (init != 0) {
      ::waitpid(init, nullptr, 0);
      ::_exit(0);
    }
    try {
      std::optional<Process> p;
      p.emplace(Process::Spawn({.argv = {"true"}}));
      if (!p->Wait(Deadline::After(std::chrono::seconds(10)))) report('w');
      int go[2], answer[2];
      if (::pipe(go) != 0 || ::pipe(answer) != 0) report('p');
      pid_t impostor = ForkWithPid(p->pid());
      if (impostor < 0) report('s');  // no set_tid here
      if (impostor == 0) {
        ::setpgid(0, 0);  // a group leader, as another run's fresh QEMU is
        char c;
        (void)!::write(answer[1], "r", 1);
        if (::read(go[0], &c, 1) == 1) (void)!::write(answer[1], "y", 1);
        ::_exit(0);
      }
      ::close(answer[1]);
      char c = 0;
      if (::read(answer[0], &c, 1) != 1) report('r');
      p.reset();  // the old code sent kill(-pid, SIGKILL) here
      (void)!::write(go[1], "g", 1);
      // "y" if the impostor is still there to answer, EOF if it was killed.
      c = 'n';
      if (::read(answer[0], &c, 1) != 1) c = 'n';
      ::waitpid(impostor, nullptr, 0);
      report(c);
    } catch (...) {
      report('e');
    }
  }
  ::close(result[1]);
  char verdict = 0;
  ASSERT_EQ(::read(result[0], &verdict, 1), 1);
  ::close(result[0]);
  ::waitpid(outer, nullptr, 0);
  if (verdict == 's') GTEST_SKIP() << "no user and pid namespaces with set_tid here";
  EXPECT_EQ(verdict, 'y') << "the process that reused the reaped pid was killed (verdict " << verdict << ")";
}

}  // namespace
}  // namespace cpuhp
