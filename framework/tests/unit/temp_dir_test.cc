// The private directories cpuhp leaves when it is SIGKILLed are swept by the
// next run; nothing else is.
#include "util/temp_dir.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "util/fd.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;

// A TempDir made by a process that then dies without running any
// destructor, as a cpuhp killed with SIGKILL does.
fs::path DirOfADeadOwner(const fs::path& parent) {
  int pipefd[2];
  if (::pipe(pipefd) != 0) return {};
  pid_t child = ::fork();
  if (child == 0) {
    ::close(pipefd[0]);
    auto* dir = new TempDir(parent, "cpuhp-");  // never destroyed
    std::ofstream(dir->path() / "qmp.sock") << "x";
    const std::string path = dir->path().string();
    (void)!::write(pipefd[1], path.data(), path.size());
    ::_exit(0);
  }
  ::close(pipefd[1]);
  std::string path;
  char buf[256];
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0) path.append(buf, static_cast<size_t>(n));
  ::close(pipefd[0]);
  ::waitpid(child, nullptr, 0);
  return path;
}

class StaleTempDirTest : public ::testing::Test {
 protected:
  TempDir scratch_{fs::temp_directory_path(), "cpuhp-test-"};
  fs::path parent_ = scratch_.path();
};

TEST_F(StaleTempDirTest, ADeadOwnersDirIsRemovedALiveOnesIsKept) {
  const fs::path dead = DirOfADeadOwner(parent_);
  ASSERT_FALSE(dead.empty());
  ASSERT_TRUE(fs::exists(dead / "qmp.sock"));
  TempDir alive(parent_, "cpuhp-");
  EXPECT_EQ(RemoveStaleTempDirs(parent_, "cpuhp-"), 1);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(alive.path()));
  EXPECT_EQ(RemoveStaleTempDirs(parent_, "cpuhp-"), 0);
}

TEST_F(StaleTempDirTest, OnlyDirsCpuhpMarkedAreEverRemoved) {
  // A look-alike without cpuhp's owner lock, a plain file, a symlink to a
  // dead owner's dir, another prefix: all stay.
  fs::create_directory(parent_ / "cpuhp-foreign");
  std::ofstream(parent_ / "cpuhp-foreign" / "data") << "not ours";
  std::ofstream(parent_ / "cpuhp-file") << "x";
  const fs::path elsewhere = parent_ / "elsewhere";
  fs::create_directory(elsewhere);
  const fs::path dead = DirOfADeadOwner(elsewhere);
  ASSERT_FALSE(dead.empty());
  fs::create_directory_symlink(dead, parent_ / "cpuhp-link");
  const fs::path other_prefix = DirOfADeadOwner(parent_);
  fs::rename(other_prefix, parent_ / "mine-kept");

  EXPECT_EQ(RemoveStaleTempDirs(parent_, "cpuhp-"), 0);
  EXPECT_TRUE(fs::exists(parent_ / "cpuhp-foreign" / "data"));
  EXPECT_TRUE(fs::exists(parent_ / "cpuhp-file"));
  EXPECT_TRUE(fs::exists(dead / "qmp.sock"));
  EXPECT_TRUE(fs::is_symlink(parent_ / "cpuhp-link"));
  EXPECT_TRUE(fs::exists(parent_ / "mine-kept"));
}

TEST_F(StaleTempDirTest, AnotherUsersDirIsKept) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to make a dir owned by someone else";
  const fs::path dead = DirOfADeadOwner(parent_);
  ASSERT_FALSE(dead.empty());
  ASSERT_EQ(::chown(dead.c_str(), 65534, 65534), 0);
  EXPECT_EQ(RemoveStaleTempDirs(parent_, "cpuhp-"), 0);
  EXPECT_TRUE(fs::exists(dead / "qmp.sock"));
}

TEST_F(StaleTempDirTest, AKeptDirOutlivesItsOwnerAndIsNotSwept) {
  fs::path kept;
  {
    TempDir dir(parent_, "cpuhp-");
    dir.Keep();
    kept = dir.path();
  }
  ASSERT_TRUE(fs::exists(kept));
  EXPECT_EQ(RemoveStaleTempDirs(parent_, "cpuhp-"), 0);
  EXPECT_TRUE(fs::exists(kept));
}

}  // namespace
}  // namespace cpuhp
