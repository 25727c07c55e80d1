// The files a run leaves behind, against hostile names and racing writers:
// a run directory must lie strictly inside the artifacts root before the
// runner creates or removes it (review.md 1: a run named ".." deleted the
// root's parent), and WriteTextFile must neither follow a planted temp file
// nor trip over a second writer of the same report.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "report/artifacts.h"
#include "scenario/runner.h"
#include "util/error.h"
#include "util/file.h"
#include "util/temp_dir.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;

class RunDirContainmentTest : public ::testing::Test {
 protected:
  void SetUp() override { MakeDirs(root_); }
  fs::path Dir(const std::string& name) { return root_ / name; }

  TempDir sandbox_{fs::temp_directory_path(), "cpuhp-contain-test-"};
  fs::path root_ = sandbox_.path() / "victim" / "arts";
};

TEST_F(RunDirContainmentTest, AcceptsPlainRunDirectories) {
  EXPECT_NO_THROW(RequireInsideRoot(root_, Dir("smoke")));
  EXPECT_NO_THROW(RequireInsideRoot(root_, Dir("topology[s2c2t2]")));
  EXPECT_NO_THROW(RequireInsideRoot(root_, Dir("a/b")));
  // Lexically inside once normalised.
  EXPECT_NO_THROW(RequireInsideRoot(root_, Dir("x/../y")));
  EXPECT_NO_THROW(RequireInsideRoot(root_, Dir("...")));
}

TEST_F(RunDirContainmentTest, RefusesTheRootItselfAndAnythingOutside) {
  for (const char* name : {"..", ".", "a/../..", "a/..", "./", "../arts2", "../../..", "/etc",
                           "/", "x/../../arts/../.."}) {
    SCOPED_TRACE(name);
    try {
      RequireInsideRoot(root_, Dir(name));
      ADD_FAILURE() << "accepted " << Dir(name);
    } catch (const Error& e) {
      // Names both paths, so that the user sees which name was refused.
      EXPECT_NE(std::string(e.what()).find(root_.string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("strictly inside"), std::string::npos) << e.what();
    }
  }
}

TEST_F(RunDirContainmentTest, ARelativeRootThatDoesNotExistYetIsCheckedLexically) {
  fs::path root = "cpuhp-artifacts/no-such-invocation";
  EXPECT_NO_THROW(RequireInsideRoot(root, root / "smoke"));
  EXPECT_THROW(RequireInsideRoot(root, root / ".."), Error);
  EXPECT_THROW(RequireInsideRoot(root, root / "."), Error);
  EXPECT_THROW(RequireInsideRoot(root, "cpuhp-artifacts/other"), Error);
}

TEST_F(RunDirContainmentTest, ASymlinkedRootIsResolved) {
  fs::path link = sandbox_.path() / "link";
  fs::create_directory_symlink(root_, link);
  EXPECT_NO_THROW(RequireInsideRoot(link, link / "smoke"));
  EXPECT_THROW(RequireInsideRoot(link, link / ".."), Error);
  // A run directory that is itself a link out of the root: removing through
  // it, or writing the run's files into it, lands outside.
  fs::create_directory_symlink(sandbox_.path() / "victim", root_ / "escape");
  EXPECT_THROW(RequireInsideRoot(link, link / "escape"), Error);
  EXPECT_THROW(RequireInsideRoot(root_, root_ / "escape"), Error);
  EXPECT_THROW(RequireInsideRoot(root_, root_ / "escape" / "deeper"), Error);
}

// review.md 1 through the runner: the launch fails (no such QEMU), but only
// after the old runner had already run remove_all on the root's parent.
TEST_F(RunDirContainmentTest, TheRunnerRefusesADotDotRunAndTouchesNothing) {
  fs::path victim = sandbox_.path() / "victim";
  std::ofstream(victim / "precious.txt") << "keep me\n";
  MakeDirs(victim / "earlier-results");
  std::ofstream(victim / "earlier-results" / "report.json") << "{}\n";

  ScenarioRun run;
  run.scenario = "..";
  run.label = "..";
  run.machine.spec.name = "..";
  run.machine.spec.qemu_binary = "/nonexistent/qemu-system-x86_64";
  run.machine.spec.kernel = "/etc/hostname";
  run.machine.spec.accel = Accel::kTcg;
  // The run's own name ".." no longer makes a ".." directory (ScenarioRun::DirName
  // never returns "." or ".."), so it runs inside the root and fails to launch.
  {
    RunOptions options;
    options.artifacts_root = root_;
    RunResult r = RunScenario(run, options);
    EXPECT_EQ(r.outcome, RunOutcome::kError);
    EXPECT_EQ(r.artifacts_dir.parent_path(), root_);
    EXPECT_EQ(ReadFileToString(victim / "precious.txt"), "keep me\n");
    EXPECT_TRUE(fs::exists(victim / "earlier-results" / "report.json"));
    fs::remove_all(r.artifacts_dir);
  }
  // A directory name that escapes is refused by the runner itself.
  for (const char* dir_name : {".", "a/../..", ".."}) {
    SCOPED_TRACE(dir_name);
    RunOptions options;
    options.artifacts_root = root_;
    options.dir_name = dir_name;
    RunResult r = RunScenario(run, options);
    EXPECT_EQ(r.outcome, RunOutcome::kError);
    ASSERT_TRUE(r.failure);
    EXPECT_EQ(r.failure->kind, FailureKind::kSetup);
    EXPECT_NE(r.failure->message.find("strictly inside"), std::string::npos) << r.failure->message;
    EXPECT_EQ(ReadFileToString(victim / "precious.txt"), "keep me\n");
    EXPECT_TRUE(fs::exists(victim / "earlier-results" / "report.json"));
    EXPECT_TRUE(fs::is_empty(root_)) << "the refused run wrote into the root";
    EXPECT_FALSE(fs::exists(victim / "result.json"));
    EXPECT_FALSE(fs::exists(victim / "steps.json"));
  }
}

TEST(WriteTextFileTest, DoesNotWriteThroughAPlantedTempFile) {
  TempDir dir(fs::temp_directory_path(), "cpuhp-write-test-");
  fs::path target = dir.path() / "junit.xml";
  fs::path victim = dir.path() / "victim.txt";
  std::ofstream(victim) << "untouched\n";
  // Whoever can write the report's directory could leave <path>.tmp pointing
  // anywhere; the old fixed name was opened with O_TRUNC and followed.
  fs::create_symlink(victim, dir.path() / "junit.xml.tmp");
  WriteTextFile(target, "<report/>\n");
  EXPECT_EQ(ReadFileToString(target), "<report/>\n");
  EXPECT_EQ(ReadFileToString(victim), "untouched\n");
  EXPECT_FALSE(fs::is_symlink(target));
}

TEST(WriteTextFileTest, TwoWritersOfTheSameFileNeverFailOrMix) {
  TempDir dir(fs::temp_directory_path(), "cpuhp-write-test-");
  fs::path target = dir.path() / "junit.xml";
  // Two invocations finishing at once, each writing its own --junit: with a
  // shared <path>.tmp one renamed the other's half-written file, or found
  // its own gone (ENOENT).
  fs::create_directory(dir.path() / "junit.xml.tmp");  // a writer that never finishes
  constexpr int kWrites = 200;
  const std::string a(64 * 1024, 'a'), b(64 * 1024, 'b');
  std::atomic<int> failures{0};
  auto writer = [&](const std::string& content) {
    for (int i = 0; i < kWrites; ++i) {
      try {
        WriteTextFile(target, content);
      } catch (const Error&) {
        ++failures;
      }
    }
  };
  std::thread t1(writer, a), t2(writer, b);
  t1.join();
  t2.join();
  EXPECT_EQ(failures.load(), 0);
  std::string got = ReadFileToString(target);
  EXPECT_TRUE(got == a || got == b) << "a mixed or partial file of " << got.size() << " bytes";
  // No temporary files are left behind (the planted directory aside).
  int entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) {
    if (e.path().filename() != kTempDirOwnerLock) ++entries;  // TempDir's own
  }
  EXPECT_EQ(entries, 2);
}

TEST(WriteTextFileTest, KeepsTheUsualPermissions) {
  TempDir dir(fs::temp_directory_path(), "cpuhp-write-test-");
  fs::path target = dir.path() / "report.json";
  WriteTextFile(target, "{}\n");
  // Readable by group and others as the umask allows (CI collects reports as
  // another user); a mkstemp-style 0600 would not be.
  mode_t mask = ::umask(0);
  ::umask(mask);
  fs::perms want = static_cast<fs::perms>(0666 & ~mask);
  EXPECT_EQ(fs::status(target).permissions() & fs::perms::all, want);
}

}  // namespace
}  // namespace cpuhp
