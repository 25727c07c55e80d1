// TailOfFile: the same lines as `tail -n`, from a bounded read, whatever the file holds.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "util/fd.h"
#include "util/file.h"
#include "util/temp_dir.h"

namespace cpuhp {
namespace {

class TailOfFileTest : public ::testing::Test {
 protected:
  std::filesystem::path Write(const std::string& text) {
    auto path = dir_.path() / ("f" + std::to_string(files_++));
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }
  TempDir dir_{std::filesystem::temp_directory_path(), "cpuhp-test-"};
  int files_ = 0;
};

TEST_F(TailOfFileTest, GivesTheLastLinesOfAnOrdinaryFile) {
  EXPECT_EQ(TailOfFile(Write("a\nb\nc\n"), 2), "b\nc\n");
  EXPECT_EQ(TailOfFile(Write("a\nb\nc"), 2), "b\nc\n");  // an unterminated last line counts
  EXPECT_EQ(TailOfFile(Write("a\r\nb\r\n"), 5), "a\nb\n");
  EXPECT_EQ(TailOfFile(Write("a\n\nb\n"), 2), "\nb\n");
  EXPECT_EQ(TailOfFile(Write("only\n"), 10), "only\n");
  EXPECT_EQ(TailOfFile(Write("a\nb\n"), 0), "");
  EXPECT_EQ(TailOfFile(Write(""), 3), "");
  EXPECT_EQ(TailOfFile(dir_.path() / "missing", 3), "");
}

TEST_F(TailOfFileTest, LinesBeyondTheReadWindowAreNotNeeded) {
  // Many short lines, far more bytes than the window: the last ones are exact.
  std::string text;
  for (int i = 0; i < 100000; ++i) text += "line " + std::to_string(i) + "\n";
  ASSERT_GT(text.size(), kTailMaxBytes);
  EXPECT_EQ(TailOfFile(Write(text), 2), "line 99998\nline 99999\n");
}

TEST_F(TailOfFileTest, AHugeFileWithNoNewlineGivesOneCutLine) {
  // 256 MiB of a sparse file, no newline anywhere: a guest console that
  // printed one endless line. The tail is bounded and says it was cut.
  auto path = dir_.path() / "endless";
  {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd);
    ASSERT_EQ(::ftruncate(fd.get(), off_t{256} << 20), 0);
    ASSERT_EQ(::pwrite(fd.get(), "xyz", 3, (off_t{256} << 20) - 3), 3);
  }
  std::string tail = TailOfFile(path, 15);
  EXPECT_LE(tail.size(), kTailMaxLineBytes + 64) << "tail is " << tail.size() << " bytes";
  EXPECT_NE(tail.find(kTailCutMarker), std::string::npos);
  EXPECT_EQ(std::count(tail.begin(), tail.end(), '\n'), 1);
}

TEST_F(TailOfFileTest, ALongLineIsCutAndMarkedAndItsNeighboursKept) {
  std::string text = "before\n" + std::string(3 * kTailMaxLineBytes, 'L') + "\nafter\n";
  std::string tail = TailOfFile(Write(text), 3);
  EXPECT_EQ(tail.rfind("before\n" + std::string(kTailMaxLineBytes, 'L'), 0), 0u) << tail.substr(0, 80);
  EXPECT_NE(tail.find(std::string(kTailCutMarker) + "\nafter\n"), std::string::npos);
  EXPECT_LE(tail.size(), kTailMaxLineBytes + 64);
}

}  // namespace
}  // namespace cpuhp
