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

std::string Nested(int depth) {
  // {"return": [[...]]}: the object is one level, each array another.
  return "{\"return\": " + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
}

TEST(JsonStreamTest, DeepNestingIsAProtocolErrorBeforeAnyParse) {
  JsonStream s("qga");
  // 200 KB, 100000 deep: enough to overflow the stack of nlohmann's recursive dump.
  s.Feed(Nested(100000) + "\n{\"return\": 1}\n");
  try {
    s.Next();
    FAIL() << "expected ProtocolError";
  } catch (const ProtocolError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("qga:"), std::string::npos) << what;
    EXPECT_NE(what.find(std::to_string(JsonStream::kMaxDepth)), std::string::npos) << what;
    EXPECT_NE(what.find(std::to_string(JsonStream::kMaxDepth + 1) + " levels"), std::string::npos)
        << what;
  }
  // The rest of the deep message is skipped; the next one comes out.
  auto msg = s.Next();
  ASSERT_TRUE(msg);
  EXPECT_EQ((*msg)["return"], 1);
}

TEST(JsonStreamTest, NestingAtTheLimitParsesAndDumps) {
  JsonStream s;
  s.Feed(Nested(JsonStream::kMaxDepth));
  auto msg = s.Next();
  ASSERT_TRUE(msg);
  EXPECT_EQ(DumpJson(*msg), Nested(JsonStream::kMaxDepth).erase(10, 1));  // dump drops the space
  s.Feed(Nested(JsonStream::kMaxDepth + 1));
  EXPECT_THROW(s.Next(), ProtocolError);
}

TEST(JsonStreamTest, EndlessStringFailsAsSoonAsTheBufferPassesTheCap) {
  JsonStream s("qmp");
  s.Feed("{\"return\": \"");
  const std::string chunk(65536, 'x');
  size_t fed = 0;
  bool thrown = false;
  while (!thrown && fed < 2 * JsonStream::kMaxMessageBytes) {
    s.Feed(chunk);
    fed += chunk.size();
    try {
      EXPECT_FALSE(s.Next());
    } catch (const ProtocolError& e) {
      thrown = true;
      EXPECT_NE(std::string(e.what()).find(std::to_string(JsonStream::kMaxMessageBytes)),
                std::string::npos)
          << e.what();
    }
  }
  ASSERT_TRUE(thrown) << "no error after " << fed << " bytes of one string";
  EXPECT_LE(fed, JsonStream::kMaxMessageBytes + chunk.size());
  // The rest of that string is dropped as it comes, without holding memory or
  // further errors, and the stream goes on after it.
  for (int i = 0; i < 20; ++i) {
    s.Feed(chunk);
    EXPECT_FALSE(s.Next());
    EXPECT_LE(s.buffered(), 2 * chunk.size());
  }
  s.Feed("\"}\n{\"return\": 2}\n");
  auto msg = s.Next();
  ASSERT_TRUE(msg);
  EXPECT_EQ((*msg)["return"], 2);
}

TEST(JsonStreamTest, GarbageIsReportedOnceAndWhatFollowsItSurvives) {
  JsonStream s;
  s.Feed("this is not json\r\n{\"event\": \"A\"}\r\n");
  EXPECT_THROW(s.Next(), ProtocolError);
  auto msg = s.Next();
  ASSERT_TRUE(msg) << "the event after the garbage was dropped";
  EXPECT_EQ((*msg)["event"], "A");

  // A run of garbage split across reads is one error, not one per read.
  s.Feed("still no");
  EXPECT_THROW(s.Next(), ProtocolError);
  s.Feed("t json{\"event\": \"B\"}");
  msg = s.Next();
  ASSERT_TRUE(msg);
  EXPECT_EQ((*msg)["event"], "B");
  EXPECT_FALSE(s.Next());
}

TEST(JsonStreamTest, MalformedObjectDoesNotDropTheNextOne) {
  JsonStream s;
  s.Feed("{\"a\": nope}{\"a\": 1e999}{\"a\": 2}");
  EXPECT_THROW(s.Next(), ProtocolError);
  EXPECT_THROW(s.Next(), ProtocolError) << "a number overflow is a ProtocolError too";
  EXPECT_EQ((*s.Next())["a"], 2);
}

TEST(JsonStreamTest, InvalidUtf8InAStringBecomesReplacementCharacters) {
  JsonStream s;
  s.Feed("{\"return\": \"caf\xe9 \xed\xa0\x80 ok \xc3\xa9\"}");
  auto msg = s.Next();
  ASSERT_TRUE(msg);
  EXPECT_EQ((*msg)["return"], "caf\uFFFD \uFFFD\uFFFD\uFFFD ok \u00e9");
  EXPECT_NO_THROW(DumpJson(*msg));
}

TEST(JsonStreamTest, DumpJsonReplacesInvalidUtf8InsteadOfThrowing) {
  nlohmann::json j = {{"vendor", std::string("Genu\xffine")}};
  EXPECT_EQ(DumpJson(j), "{\"vendor\":\"Genu\uFFFDine\"}");
  EXPECT_EQ(DumpJsonShort({{"s", std::string(1000, 'a')}}, 10), "{\"s\":\"aaaa... (1008 bytes)");
  // A cut never splits a UTF-8 sequence.
  EXPECT_EQ(DumpJsonShort({{"s", "\u00e9\u00e9\u00e9"}}, 8), "{\"s\":\"\u00e9... (14 bytes)");
}

}  // namespace
}  // namespace cpuhp
