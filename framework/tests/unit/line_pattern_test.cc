// The patterns wait_for_console searches guest console lines for.
#include "util/line_pattern.h"

#include <gtest/gtest.h>

#include <string>

namespace cpuhp {
namespace {

LinePattern MustCompile(std::string_view text) {
  std::string why;
  std::optional<LinePattern> p = LinePattern::Compile(text, &why);
  EXPECT_TRUE(p.has_value()) << text << ": " << why;
  return *p;
}

std::string WhyNot(std::string_view text) {
  std::string why;
  EXPECT_FALSE(LinePattern::Compile(text, &why).has_value()) << text;
  return why;
}

TEST(LinePatternTest, SearchesTheLineAsGrepEDoes) {
  LinePattern offline = MustCompile("smpboot: CPU [0-9]+ is now offline");
  EXPECT_TRUE(offline.Matches("[   41.2] smpboot: CPU 3 is now offline"));
  EXPECT_FALSE(offline.Matches("[   41.2] smpboot: CPU three is now offline"));
  EXPECT_TRUE(MustCompile("^cpuhp-guest-ready$").Matches("cpuhp-guest-ready"));
  EXPECT_FALSE(MustCompile("^ready").Matches("not ready"));
  EXPECT_TRUE(MustCompile("Booting Node [[:digit:]] Processor (1|2)").Matches("smpboot: Booting Node 0 Processor 2 APIC 0x2"));
  EXPECT_EQ(MustCompile("a+").text(), "a+");
}

TEST(LinePatternTest, AGuestNulDoesNotEndTheLine) {
  using namespace std::string_literals;
  EXPECT_TRUE(MustCompile("after").Matches("before\0after"s));
}

TEST(LinePatternTest, RefusesWhatCouldMakeMatchingCostly) {
  EXPECT_EQ(WhyNot(""), "an empty pattern");
  EXPECT_EQ(WhyNot(std::string(257, 'a')), "a pattern of 257 bytes (at most 256)");
  EXPECT_EQ(WhyNot("(a)\\1"), "back-references (\\1) are not supported");
  EXPECT_EQ(WhyNot("a{1000}"), "a repeat count over 255 (1000)");
  EXPECT_EQ(WhyNot("a{2,99999999999}"), "a repeat count over 255 (99999999999)");
  EXPECT_NE(WhyNot("a(b").find("not a POSIX extended regular expression: "), std::string::npos);
  // Inside brackets, braces and backslashes are plain characters.
  EXPECT_TRUE(MustCompile("[{]9999[}]").Matches("{9999}"));
  EXPECT_TRUE(MustCompile("[[:alpha:]]{3}").Matches("abc"));
}

TEST(LinePatternTest, NestedRepeatsOverALongLineStayCheap) {
  // std::regex backtracks exponentially here; glibc's matcher does not.
  const std::string line(4096, 'a');
  EXPECT_FALSE(MustCompile("(a*)*b").Matches(line));
  EXPECT_FALSE(MustCompile("(a|aa)+$x").Matches(line));
}

}  // namespace
}  // namespace cpuhp
