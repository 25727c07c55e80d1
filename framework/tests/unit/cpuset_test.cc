#include "guest/cpuset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace cpuhp {
namespace {

using ::testing::HasSubstr;

TEST(CpuSetTest, ParsesKernelCpulists) {
  EXPECT_EQ(CpuSet::Parse("0-3,5,7-8\n"), (CpuSet{0, 1, 2, 3, 5, 7, 8}));
  EXPECT_EQ(CpuSet::Parse("0\n"), (CpuSet{0}));
  EXPECT_TRUE(CpuSet::Parse("\n").Empty()) << "an empty `offline` file";
  EXPECT_EQ(CpuSet::Parse("0-8191").Size(), 8192u);
}

TEST(CpuSetTest, FormatsCanonically) {
  EXPECT_EQ(CpuSet::Parse("5,0,1,2,3,7-8").ToString(), "0-3,5,7-8");
  EXPECT_EQ(CpuSet().ToString(), "");
  EXPECT_EQ(CpuSet::Parse("0-8191").ToString(), "0-8191");
}

TEST(CpuSetTest, BadSyntaxNamesTheSource) {
  for (const char* bad : {"0-", "-1", "3-1", "a", "0,,1", "1,", "0-3x"}) {
    try {
      CpuSet::Parse(bad, "/sys/devices/system/cpu/online");
      ADD_FAILURE() << "accepted \"" << bad << "\"";
    } catch (const CpuListError& e) {
      EXPECT_NE(std::string(e.what()).find("/sys/devices/system/cpu/online"), std::string::npos);
    }
  }
}

TEST(CpuSetTest, SetAlgebra) {
  CpuSet a{0, 1, 2}, b{1, 2, 3};
  EXPECT_EQ(a.Minus(b), (CpuSet{0}));
  EXPECT_EQ(a.Union(b), (CpuSet{0, 1, 2, 3}));
  EXPECT_EQ(a.Intersect(b), (CpuSet{1, 2}));
  EXPECT_TRUE((CpuSet{1, 2}).IsSubsetOf(a));
  EXPECT_FALSE(b.IsSubsetOf(a));
}


// Found by the sysfs fuzzer (corpus/sysfs/timeout-cpulist-repeated-full-ranges):
// each repeat of a full range cost a million set inserts, so 4 KB of guest
// text took minutes. Ranges may add up to every CPU number once, no more.
TEST(CpuSetTest, RepeatedFullRangesAreRefusedNotExpanded) {
  std::string text;
  for (int i = 0; i < 400; ++i) text += (i ? "," : "") + std::string("0-1048576");
  try {
    CpuSet::Parse(text, "/sys/devices/system/cpu/online");
    FAIL() << "parsed";
  } catch (const CpuListError& e) {
    EXPECT_THAT(e.what(), HasSubstr("list more than 1048577 CPUs"));
    EXPECT_THAT(e.what(), HasSubstr("(3999 bytes)"));  // the text is quoted, not pasted whole
    EXPECT_LT(std::string(e.what()).size(), 400u);
  }
  EXPECT_EQ(CpuSet::Parse("0-1048576", "x").Size(), 1048577u);  // one full range is fine
}


TEST(CpuSetTest, GuestTextInTheErrorCannotDriveATerminal) {
  try {
    CpuSet::Parse("0-1\x1b[2J\n", "/sys/devices/system/cpu/online");
    FAIL() << "parsed";
  } catch (const CpuListError& e) {
    EXPECT_THAT(e.what(), HasSubstr("1\\x1b[2J"));
    EXPECT_EQ(std::string(e.what()).find('\x1b'), std::string::npos);
  }
}
}  // namespace
}  // namespace cpuhp
