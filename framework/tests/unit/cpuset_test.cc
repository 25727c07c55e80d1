#include "guest/cpuset.h"

#include <gtest/gtest.h>

namespace cpuhp {
namespace {

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

}  // namespace
}  // namespace cpuhp
