#include "guest/agent_client.h"

#include <gtest/gtest.h>

#include "fake_peer.h"
#include "util/base64.h"

namespace cpuhp {
namespace {

using testing::FakePeer;
using json = nlohmann::json;

// Reads the client's 0xFF + guest-sync-delimited and returns its id.
int64_t ReadSync(FakePeer& p) {
  std::string line = p.ReadLine();
  if (!line.empty() && line[0] == '\xFF') line.erase(0, 1);
  json req = json::parse(line);
  EXPECT_EQ(req["execute"], "guest-sync-delimited");
  return req["arguments"]["id"];
}

TEST(AgentClientTest, SyncDiscardsStaleOutputBeforeTheDelimiter) {
  FakePeer peer([](FakePeer& p) {
    int64_t id = ReadSync(p);
    // A late reply to some earlier command, then the delimited sync answer.
    p.Write("{\"return\": {\"stale\": true}}\n\xFF{\"return\": " + std::to_string(id) + "}\n");
    p.ReadLine();
    p.Write("{\"return\": {}}\n");
  });
  AgentClient agent(peer.TakeClientFd(), "qga", nullptr);
  agent.Sync(Deadline::After(std::chrono::seconds(5)));
  EXPECT_EQ(agent.Execute("guest-ping"), json::object());
}

TEST(AgentClientTest, SyncRetriesUntilTheAgentAnswersTheLatestId) {
  FakePeer peer([](FakePeer& p) {
    int64_t first = ReadSync(p);
    // The agent "boots" late: the first attempt goes unanswered until the
    // second arrives, then both are answered in order.
    int64_t second = ReadSync(p);
    p.Write("\xFF{\"return\": " + std::to_string(first) + "}\n");
    p.Write("\xFF{\"return\": " + std::to_string(second) + "}\n");
  });
  AgentClient agent(peer.TakeClientFd(), "qga", nullptr);
  // kAgentSyncTimeout bounds each attempt; the whole wait is bounded by this one.
  agent.Sync(Deadline::After(std::chrono::seconds(20)));
  SUCCEED();
}

TEST(AgentClientTest, ReadFileOpensReadsInChunksAndCloses) {
  std::vector<std::string> commands;
  {
    FakePeer peer([&](FakePeer& p) {
      int64_t id = ReadSync(p);
      p.Write("\xFF{\"return\": " + std::to_string(id) + "}\n");
      auto next = [&] {
        json req = json::parse(p.ReadLine());
        commands.push_back(req["execute"]);
        return req;
      };
      next();
      p.Write("{\"return\": 1000}\n");
      next();
      p.Write(json({{"return", {{"count", 4}, {"buf-b64", Base64Encode("0-1,")}, {"eof", false}}}})
                  .dump() + "\n");
      next();
      p.Write(json({{"return", {{"count", 2}, {"buf-b64", Base64Encode("3\n")}, {"eof", true}}}})
                  .dump() + "\n");
      next();
      p.Write("{\"return\": {}}\n");
    });
    AgentClient agent(peer.TakeClientFd(), "qga", nullptr);
    EXPECT_EQ(agent.ReadFile("/sys/devices/system/cpu/online"), "0-1,3\n");
  }
  EXPECT_EQ(commands, (std::vector<std::string>{"guest-file-open", "guest-file-read",
                                                "guest-file-read", "guest-file-close"}));
}

TEST(AgentClientTest, MissingFileIsNulloptOtherErrorsThrow) {
  FakePeer peer([](FakePeer& p) {
    int64_t id = ReadSync(p);
    p.Write("\xFF{\"return\": " + std::to_string(id) + "}\n");
    p.ReadLine();
    p.Write(R"({"error": {"class": "GenericError", "desc": "failed to open file '/x' (mode: 'r'): No such file or directory"}})" "\n");
    p.ReadLine();
    p.Write(R"({"error": {"class": "GenericError", "desc": "failed to open file '/y' (mode: 'r'): Permission denied"}})" "\n");
  });
  AgentClient agent(peer.TakeClientFd(), "qga", nullptr);
  EXPECT_EQ(agent.TryReadFile("/x"), std::nullopt);
  EXPECT_THROW(agent.TryReadFile("/y"), AgentError);
}

TEST(AgentClientTest, SetVcpusReportsTheFirstEntryNotProcessed) {
  FakePeer peer([](FakePeer& p) {
    int64_t id = ReadSync(p);
    p.Write("\xFF{\"return\": " + std::to_string(id) + "}\n");
    p.ReadLine();
    p.Write("{\"return\": 1}\n");
  });
  AgentClient agent(peer.TakeClientFd(), "qga", nullptr);
  try {
    agent.SetVcpus({{1, true, true}, {2, true, true}});
    FAIL() << "expected AgentError";
  } catch (const AgentError& e) {
    EXPECT_NE(std::string(e.what()).find("cpu2"), std::string::npos) << e.what();
  }
}

TEST(AgentClientTest, TimeoutForcesAResyncBeforeTheNextCommand) {
  FakePeer peer([](FakePeer& p) {
    int64_t id = ReadSync(p);
    p.Write("\xFF{\"return\": " + std::to_string(id) + "}\n");
    p.ReadLine();  // guest-get-vcpus: answered too late, after the client gave up
    int64_t id2 = ReadSync(p);
    p.Write("{\"return\": [{\"logical-id\": 0, \"online\": true, \"can-offline\": false}]}\n");
    p.Write("\xFF{\"return\": " + std::to_string(id2) + "}\n");
    p.ReadLine();
    p.Write("{\"return\": {}}\n");
  });
  AgentClient agent(peer.TakeClientFd(), "qga", nullptr);
  EXPECT_THROW(agent.GetVcpus(Deadline::AfterUnscaled(std::chrono::milliseconds(200))), TimeoutError);
  // The late guest-get-vcpus reply must not be taken for guest-ping's.
  EXPECT_EQ(agent.Execute("guest-ping"), json::object());
}

TEST(Base64Test, RoundTrip) {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", "abcd", "0-3,5\n", std::string("\0\xff\x10", 3)}) {
    EXPECT_EQ(Base64Decode(Base64Encode(s)), s);
  }
  EXPECT_EQ(Base64Encode("0-1\n"), "MC0xCg==");
  EXPECT_THROW(Base64Decode("!!!"), ProtocolError);
}

}  // namespace
}  // namespace cpuhp
