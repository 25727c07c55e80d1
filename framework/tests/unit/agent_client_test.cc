#include "guest/agent_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <future>

#include "fake_peer.h"
#include "util/base64.h"

namespace cpuhp {
namespace {

using testing::ExpectTimeoutUnderFlood;
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

// ReadSync and the agent's delimited answer to it.
void AnswerSync(FakePeer& p) {
  int64_t id = ReadSync(p);
  p.Write("\xFF{\"return\": " + std::to_string(id) + "}\n");
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

// Seen in a cold --jobs auto run: a worker whose taskset failed exited
// between the open of /proc/PID/stat and its read.
TEST(AgentClientTest, AProcFileWhoseProcessExitedIsMissing) {
  FakePeer peer([](FakePeer& p) {
    int64_t id = ReadSync(p);
    p.Write("\xFF{\"return\": " + std::to_string(id) + "}\n");
    p.ReadLine();  // guest-file-open
    p.Write("{\"return\": 7}\n");
    p.ReadLine();  // guest-file-read
    p.Write(R"({"error": {"class": "GenericError", "desc": "failed to read file: No such process"}})" "\n");
    p.ReadLine();  // guest-file-close
    p.Write("{\"return\": {}}\n");
  });
  AgentClient agent(peer.TakeClientFd(), "qga", nullptr);
  EXPECT_EQ(agent.TryReadFile("/proc/42/stat"), std::nullopt);
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

// Plays qemu-ga until the client closes: answers guest-sync-delimited as the
// agent does (0xFF, then the id; counted in *syncs) and any other command with
// answer(request), by default {"return": "reply to <command>"}.
using Answer = std::function<std::string(const json& request)>;
void ServeAgent(FakePeer& p, std::atomic<int>* syncs, const Answer& answer = nullptr) {
  for (;;) {
    std::string line = p.ReadLine();
    if (line.empty()) return;
    while (!line.empty() && line[0] == '\xFF') line.erase(0, 1);
    json req = json::parse(line);
    std::string reply;
    if (req["execute"] == "guest-sync-delimited") {
      ++*syncs;
      reply = "\xFF" + json({{"return", req["arguments"]["id"]}}).dump() + "\n";
    } else {
      reply = answer ? answer(req) : "";
      if (reply.empty())
        reply = json({{"return", "reply to " + req["execute"].get<std::string>()}}).dump() + "\n";
    }
    if (!p.TryWrite(reply)) return;
  }
}

std::string Repeated(const std::string& message, int count = 2000) {
  std::string out;
  for (int i = 0; i < count; ++i) out += message;
  return out;
}

TEST(AgentClientTest, UnexpectedMessagesWithoutPauseStillTimeOut) {
  std::atomic<bool> stop{false};
  FakePeer peer([&](FakePeer& p) {
    AnswerSync(p);
    p.ReadLine();
    p.Flood(Repeated("{\"x\": 1}\n"), stop);
  });
  AgentClient agent(peer.TakeClientFd(), "qga", nullptr);
  agent.Sync(Deadline::After(std::chrono::seconds(5)));
  ExpectTimeoutUnderFlood(
      stop, [&](const Deadline& deadline) { agent.Execute("guest-ping", nullptr, deadline); });
}

TEST(AgentClientTest, WrongIdSyncRepliesWithoutPauseStillTimeOut) {
  std::atomic<bool> stop{false};
  FakePeer peer([&](FakePeer& p) {
    ReadSync(p);
    p.Flood(Repeated("\xFF{\"return\": 1}\n"), stop);
  });
  AgentClient agent(peer.TakeClientFd(), "qga", nullptr);
  ExpectTimeoutUnderFlood(stop, [&](const Deadline& deadline) { agent.Sync(deadline); });
}

TEST(AgentClientTest, FileThatNeverEndsStillTimesOut) {
  std::atomic<bool> stop{false};
  FakePeer peer([&](FakePeer& p) {
    AnswerSync(p);
    p.ReadLine();
    p.Write("{\"return\": 1}\n");
    p.ReadLine();
    // Every guest-file-read answered at once, one byte and never eof.
    p.Flood(Repeated(R"({"return": {"count": 1, "buf-b64": "YQ==", "eof": false}})"
                     "\n"),
            stop);
  });
  AgentClient agent(peer.TakeClientFd(), "qga", nullptr);
  ExpectTimeoutUnderFlood(
      stop, [&](const Deadline& deadline) { agent.ReadFile("/proc/cpuinfo", deadline); });
}

// As in qmp_client_test: everything the agent will say is already in the
// socket when a call whose deadline has passed starts, so that "the peer keeps
// sending" does not depend on timing.
void ExpectExpiredCallStopsBefore(const std::string& queued,
                                  const std::function<void(AgentClient&)>& call) {
  std::promise<void> written;
  std::promise<void> synced;
  FakePeer peer([&](FakePeer& p) {
    AnswerSync(p);
    synced.get_future().wait();
    p.Write(queued);
    written.set_value();
    while (!p.ReadLine().empty()) {
    }
  });
  SCOPED_TRACE(queued.substr(0, 60));
  AgentClient agent(peer.TakeClientFd(), "qga", nullptr);
  agent.Sync(Deadline::After(std::chrono::seconds(5)));
  synced.set_value();
  written.get_future().wait();
  EXPECT_THROW(call(agent), TimeoutError) << "read on past the deadline to the queued answer";
}

TEST(AgentClientTest, ExpiredDeadlineIsNotOutlivedByQueuedMessages) {
  const Deadline expired = Deadline::AfterUnscaled(Clock::duration::zero());
  ExpectExpiredCallStopsBefore(Repeated("{\"x\": 1}\n", 1000) + "{\"return\": {}}\n",
                               [&](AgentClient& a) { a.Execute("guest-ping", nullptr, expired); });
  ExpectExpiredCallStopsBefore(
      "{\"return\": 1}\n" +
          // (few enough that the client's own requests fit in the socket buffer)
          Repeated(R"({"return": {"count": 1, "buf-b64": "YQ==", "eof": false}})"
                   "\n",
                   100) +
          R"({"return": {"count": 0, "buf-b64": "", "eof": true}})"
          "\n{\"return\": {}}\n",
      [&](AgentClient& a) { a.ReadFile("/proc/cpuinfo", expired); });
}

TEST(AgentClientTest, FileOverTheSizeCapIsAProtocolErrorNamingIt) {
  std::atomic<int> syncs{0};
  const std::string chunk = json({{"return",
                                   {{"count", 65536},
                                    {"buf-b64", Base64Encode(std::string(65536, 'a'))},
                                    {"eof", false}}}})
                                .dump() +
                            "\n";
  FakePeer peer([&](FakePeer& p) {
    ServeAgent(p, &syncs, [&](const json& req) -> std::string {
      if (req["execute"] == "guest-file-open") return "{\"return\": 7}\n";
      if (req["execute"] == "guest-file-read") return chunk;
      return "";
    });
  });
  AgentClient agent(peer.TakeClientFd(), "qga", nullptr);
  try {
    agent.ReadFile("/proc/cpuinfo", Deadline::AfterUnscaled(std::chrono::seconds(20)));
    FAIL() << "expected ProtocolError";
  } catch (const ProtocolError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("/proc/cpuinfo"), std::string::npos) << what;
    EXPECT_NE(what.find(std::to_string(AgentClient::kMaxFileBytes)), std::string::npos) << what;
  }
}

// review.md 6: a malformed reply followed by the real one must not shift every
// later reply onto the next command.
TEST(AgentClientTest, MalformedReplyForcesAResyncSoLaterRepliesStayInStep) {
  std::atomic<int> syncs{0};
  FakePeer peer([&](FakePeer& p) {
    ServeAgent(p, &syncs, [](const json& req) -> std::string {
      if (req["execute"] == "guest-info")
        return "{\"return\": nope}\n{\"return\": \"reply to guest-info\"}\n";
      return "";
    });
  });
  AgentClient agent(peer.TakeClientFd(), "qga", nullptr);
  EXPECT_THROW(agent.Execute("guest-info"), ProtocolError);
  EXPECT_EQ(agent.Execute("guest-get-osinfo"), "reply to guest-get-osinfo");
  EXPECT_EQ(agent.Execute("guest-get-host-name"), "reply to guest-get-host-name");
  EXPECT_EQ(syncs, 2);
}

TEST(AgentClientTest, MalformedReplyInAPipelinedReadForcesAResync) {
  std::atomic<int> syncs{0};
  std::atomic<int> opens{0};
  FakePeer peer([&](FakePeer& p) {
    ServeAgent(p, &syncs, [&](const json& req) -> std::string {
      if (req["execute"] == "guest-file-open") {
        return (++opens == 1 ? "{\"return\": nope}\n" : "") + std::string("{\"return\": ") +
               std::to_string(opens) + "}\n";
      }
      return "";
    });
  });
  AgentClient agent(peer.TakeClientFd(), "qga", nullptr);
  EXPECT_THROW(agent.TryReadFiles({"/sys/a", "/sys/b"}), ProtocolError);
  EXPECT_EQ(agent.Execute("guest-ping"), "reply to guest-ping");
  EXPECT_EQ(syncs, 2);
}

// The agent answers `command` (once) with `bad`: `call` must throw a
// ProtocolError naming the command and `field`, and the next command must
// resync first.
void ExpectProtocolError(const std::string& command, const std::string& bad,
                         const std::string& field, const std::function<void(AgentClient&)>& call) {
  SCOPED_TRACE(command + " answered " + bad);
  std::atomic<int> syncs{0};
  bool answered = false;
  FakePeer peer([&](FakePeer& p) {
    ServeAgent(p, &syncs, [&](const json& req) -> std::string {
      if (req["execute"] == command && !answered) {
        answered = true;
        return bad + "\n";
      }
      if (req["execute"] == "guest-file-open") return "{\"return\": 3}\n";
      return "";
    });
  });
  AgentClient agent(peer.TakeClientFd(), "qga", nullptr);
  agent.Sync(Deadline::After(std::chrono::seconds(5)));
  int before = syncs;
  try {
    call(agent);
    ADD_FAILURE() << "expected ProtocolError";
  } catch (const ProtocolError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find(command), std::string::npos) << what;
    EXPECT_NE(what.find("\"" + field + "\""), std::string::npos) << what;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected ProtocolError, got " << e.what();
  }
  EXPECT_EQ(agent.Execute("guest-ping"), "reply to guest-ping");
  // (for ReadFile the resync comes before its guest-file-close)
  EXPECT_GT(syncs, before) << "no resync after the ProtocolError";
}

TEST(AgentClientTest, RepliesOfTheWrongTypeAreProtocolErrorsAndResync) {
  auto ping = [](AgentClient& a) { a.Execute("guest-ping"); };
  auto read = [](AgentClient& a) { a.ReadFile("/sys/devices/system/cpu/online"); };
  auto vcpus = [](AgentClient& a) { a.GetVcpus(); };
  ExpectProtocolError("guest-ping", R"({"error": "boom"})", "error", ping);
  ExpectProtocolError("guest-ping", R"({"error": {"class": 1, "desc": "x"}})", "error.class", ping);
  ExpectProtocolError("guest-file-open", R"({"return": "3"})", "return", read);
  ExpectProtocolError("guest-file-read",
                      R"({"return": {"count": 1, "buf-b64": "YQ==", "eof": "yes"}})", "return.eof",
                      read);
  ExpectProtocolError("guest-file-read", R"({"return": {"count": 1, "buf-b64": 5, "eof": true}})",
                      "return.buf-b64", read);
  ExpectProtocolError("guest-file-read", R"({"return": [1]})", "return", read);
  ExpectProtocolError("guest-get-vcpus", R"({"return": [1, 2]})", "return[0]", vcpus);
  ExpectProtocolError("guest-get-vcpus", R"({"return": 5})", "return", vcpus);
  ExpectProtocolError("guest-get-vcpus", R"({"return": [{"logical-id": "0", "online": true}]})",
                      "return[0].logical-id", vcpus);
  ExpectProtocolError("guest-get-vcpus", R"({"return": [{"logical-id": 0, "online": 1}]})",
                      "return[0].online", vcpus);
  ExpectProtocolError("guest-set-vcpus", R"({"return": -1})", "return",
                      [](AgentClient& a) { a.SetOnline(1, true); });
  ExpectProtocolError("guest-file-open", R"({"return": 1.5})", "return",
                      [](AgentClient& a) { a.TryReadFiles({"/sys/x"}); });
}

TEST(AgentClientTest, GetVcpusReadsWellFormedEntries) {
  std::atomic<int> syncs{0};
  FakePeer peer([&](FakePeer& p) {
    ServeAgent(p, &syncs, [](const json&) -> std::string {
      return R"({"return": [{"logical-id": 0, "online": true, "can-offline": false}, {"logical-id": 3, "online": false}]})"
             "\n";
    });
  });
  AgentClient agent(peer.TakeClientFd(), "qga", nullptr);
  EXPECT_EQ(agent.GetVcpus(), (std::vector<GuestVcpu>{{0, true, false}, {3, false, false}}));
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
