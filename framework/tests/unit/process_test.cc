#include "util/process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "util/error.h"
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
  ExitStatus s = p.Terminate(std::chrono::milliseconds(300));
  EXPECT_EQ(s.signal, SIGKILL);
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

}  // namespace
}  // namespace cpuhp
