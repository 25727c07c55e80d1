#include "qmp/json_stream.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace cpuhp {
namespace {

TEST(JsonStreamTest, MessageSplitAcrossFeedsComesOutWhole) {
  JsonStream s;
  s.Feed("{\"return\": {\"a\": ");
  EXPECT_FALSE(s.Next());
  s.Feed("1}}\r\n");
  auto msg = s.Next();
  ASSERT_TRUE(msg);
  EXPECT_EQ((*msg)["return"]["a"], 1);
  EXPECT_FALSE(s.Next());
}

TEST(JsonStreamTest, SeveralMessagesInOneFeed) {
  JsonStream s;
  s.Feed("{\"event\":\"A\"}\r\n{\"event\":\"B\"}{\"return\":{}}\r\n");
  EXPECT_EQ((*s.Next())["event"], "A");
  EXPECT_EQ((*s.Next())["event"], "B");
  EXPECT_TRUE(s.Next()->contains("return"));
  EXPECT_FALSE(s.Next());
}

TEST(JsonStreamTest, BracesInsideStringsDoNotEndTheObject) {
  JsonStream s;
  s.Feed(R"({"desc": "bad } value \" with {braces}"})");
  auto msg = s.Next();
  ASSERT_TRUE(msg);
  EXPECT_EQ((*msg)["desc"], "bad } value \" with {braces}");
}

TEST(JsonStreamTest, ByteByByteFeeding) {
  JsonStream s;
  std::string text = R"({"event":"DEVICE_DELETED","data":{"device":"cpu1"}})";
  for (size_t i = 0; i + 1 < text.size(); ++i) {
    s.Feed(text.substr(i, 1));
    ASSERT_FALSE(s.Next()) << "complete too early at byte " << i;
  }
  s.Feed(text.substr(text.size() - 1));
  EXPECT_EQ((*s.Next())["data"]["device"], "cpu1");
}

TEST(JsonStreamTest, GarbageIsAProtocolError) {
  JsonStream s;
  s.Feed("hello\n");
  EXPECT_THROW(s.Next(), ProtocolError);
}

TEST(JsonStreamTest, MalformedObjectIsAProtocolError) {
  JsonStream s;
  s.Feed("{\"a\": nope}");
  EXPECT_THROW(s.Next(), ProtocolError);
}

TEST(JsonStreamTest, DiscardUntilDelimiterDropsStaleReplies) {
  JsonStream s;
  s.DiscardUntilDelimiter();
  s.Feed("{\"return\": 1}\n{\"ret");
  EXPECT_FALSE(s.Next());
  s.Feed("urn\": 2}\xFF{\"return\": 3}\n");
  auto msg = s.Next();
  ASSERT_TRUE(msg);
  EXPECT_EQ((*msg)["return"], 3);
}

}  // namespace
}  // namespace cpuhp
