#include "qmp/qmp_client.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <future>

#include "fake_peer.h"
#include "util/file.h"
#include "util/temp_dir.h"

namespace cpuhp {
namespace {

using testing::ExpectTimeoutUnderFlood;
using testing::FakePeer;
using json = nlohmann::json;
constexpr char kGreeting[] =
    R"({"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}})"
    "\r\n";

std::string IdOf(const std::string& line) { return json::parse(line)["id"]; }

TEST(QmpClientTest, HandshakeSendsCapabilitiesAndReturnsGreeting) {
  std::string seen;
  {
    FakePeer peer([&](FakePeer& p) {
      p.Write(kGreeting);
      std::string line = p.ReadLine();
      seen = json::parse(line)["execute"];
      p.Write(R"({"return": {}, "id": ")" + IdOf(line) + "\"}\r\n");
    });
    QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
    const json& greeting = qmp.Handshake(Deadline::After(std::chrono::seconds(5)));
    EXPECT_EQ(greeting["QMP"]["version"]["qemu"]["major"], 7);
  }  // the peer's thread is joined here
  EXPECT_EQ(seen, "qmp_capabilities");
}

TEST(QmpClientTest, EventsArrivingBeforeTheReplyAreBufferedForLaterWaiters) {
  FakePeer peer([](FakePeer& p) {
    std::string id = IdOf(p.ReadLine());
    // The reply is split in two writes, with two events in front of it.
    p.Write(R"({"event": "ACPI_DEVICE_OST", "data": {"info": {"device": "cpu1"}}})" "\r\n"
            R"({"event": "OTHER", "data": {}})" "\r\n" R"({"return": {"ok")");
    p.Write(R"(: true}, "id": ")" + id + "\"}\r\n");
  });
  QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
  json ret = qmp.Execute("device_add", {{"id", "cpu1"}});
  EXPECT_EQ(ret["ok"], true);
  ASSERT_EQ(qmp.events().size(), 2u);
  json ev = qmp.WaitForEvent("ACPI_DEVICE_OST", MatchData({{"info", {{"device", "cpu1"}}}}),
                             Deadline::After(std::chrono::seconds(1)));
  EXPECT_EQ(ev["data"]["info"]["device"], "cpu1");
  EXPECT_EQ(qmp.events().size(), 1u) << "the unmatched event stays buffered";
}

TEST(QmpClientTest, ErrorReplyBecomesQmpErrorWithClassAndDesc) {
  FakePeer peer([](FakePeer& p) {
    std::string id = IdOf(p.ReadLine());
    p.Write(R"({"error": {"class": "GenericError", "desc": "Boot CPU is unpluggable"}, "id": ")" +
            id + "\"}\r\n");
  });
  QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
  try {
    qmp.Execute("device_del", {{"id", "cpu0"}});
    FAIL() << "expected QmpError";
  } catch (const QmpError& e) {
    EXPECT_EQ(e.error_class(), "GenericError");
    EXPECT_EQ(e.desc(), "Boot CPU is unpluggable");
    EXPECT_EQ(e.command()["execute"], "device_del");
    EXPECT_NE(std::string(e.what()).find("GenericError"), std::string::npos);
  }
}

TEST(QmpClientTest, StaleReplyWithOtherIdIsSkipped) {
  FakePeer peer([](FakePeer& p) {
    std::string id = IdOf(p.ReadLine());
    p.Write(R"({"return": "stale", "id": "cpuhp-0"})" "\r\n");
    p.Write(R"({"return": "fresh", "id": ")" + id + "\"}\r\n");
  });
  QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
  EXPECT_EQ(qmp.Execute("query-status"), "fresh");
}

TEST(QmpClientTest, EofWhileWaitingIsAConnectionErrorNotAHang) {
  FakePeer peer([](FakePeer& p) {
    p.ReadLine();
    p.Write(R"({"return": {)");  // QEMU dies mid-message
    p.Close();
  });
  QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
  auto start = Clock::now();
  EXPECT_THROW(qmp.Execute("query-status", nullptr, Deadline::After(std::chrono::seconds(30))),
               ConnectionError);
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(30)) << "must not wait out the deadline";
}

// What `command` fails with when the peer has gone: the ConnectionError's
// text, or "" with the test failed when it threw none.
std::string ConnectionErrorFrom(QmpClient& qmp, std::string_view command) {
  try {
    qmp.Execute(command, nullptr, Deadline::After(std::chrono::seconds(30)));
  } catch (const ConnectionError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected ConnectionError from " << command;
  return "";
}

// QEMU's SHUTDOWN event, sent just before it closed QMP, says why it
// stopped: the ConnectionError carries it, read after the reply wait or
// after the write failed.
TEST(QmpClientTest, ConnectionClosedByQemuSaysWhyFromItsShutdownEvent) {
  FakePeer peer([](FakePeer& p) {
    p.ReadLine();
    p.Write(R"({"event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-reset"}})" "\r\n");
    p.Close();
  });
  QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
  std::string error = ConnectionErrorFrom(qmp, "query-hotpluggable-cpus");
  EXPECT_NE(error.find("QEMU's last event before it closed QMP: SHUTDOWN, reason "
                      "\"guest-reset\": the guest reset itself"),
            std::string::npos)
      << error;
}

TEST(QmpClientTest, WriteToAClosedQmpStillReadsTheShutdownReason) {
  std::promise<void> closed;
  FakePeer peer([&](FakePeer& p) {
    p.Write(R"({"event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}})" "\r\n");
    p.Close();
    closed.set_value();
  });
  closed.get_future().wait();
  QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
  std::string error = ConnectionErrorFrom(qmp, "query-status");
  EXPECT_NE(error.find("reason \"guest-shutdown\": the guest powered itself off"), std::string::npos)
      << error;
}

TEST(QmpClientTest, ConnectionClosedWithoutAShutdownEventAddsNoReason) {
  FakePeer peer([](FakePeer& p) {
    p.ReadLine();
    p.Close();
  });
  QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
  std::string error = ConnectionErrorFrom(qmp, "query-status");
  EXPECT_EQ(error.find("SHUTDOWN"), std::string::npos) << error;
}

TEST(QmpClientTest, NoReplyIsATimeoutNamingTheCommand) {
  FakePeer peer([](FakePeer& p) { p.ReadLine(); p.ReadLine(); });
  QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
  try {
    qmp.Execute("query-cpus-fast", nullptr, Deadline::AfterUnscaled(std::chrono::milliseconds(100)));
    FAIL() << "expected TimeoutError";
  } catch (const TimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find("query-cpus-fast"), std::string::npos) << e.what();
  }
  qmp.channel().SendRaw("\n", Deadline::After(std::chrono::seconds(1)));  // let the peer finish
}

TEST(QmpClientTest, GarbageFromThePeerIsAProtocolError) {
  FakePeer peer([](FakePeer& p) {
    p.ReadLine();
    p.Write("this is not json\r\n");
  });
  QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
  EXPECT_THROW(qmp.Execute("query-status"), ProtocolError);
}

TEST(QmpClientTest, WaitForEventTimesOutListingWhatDidArrive) {
  FakePeer peer([](FakePeer& p) {
    p.Write(R"({"event": "RESUME", "data": {}})" "\r\n");
    p.ReadLine();
  });
  QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
  try {
    qmp.WaitForEvent("DEVICE_DELETED", nullptr, Deadline::AfterUnscaled(std::chrono::milliseconds(200)));
    FAIL() << "expected TimeoutError";
  } catch (const TimeoutError& e) {
    EXPECT_NE(std::string(e.what()).find("RESUME"), std::string::npos) << e.what();
  }
  qmp.channel().SendRaw("\n", Deadline::After(std::chrono::seconds(1)));
}

// `count` copies of `message` + "\r\n": one write of a flood, big enough that
// the peer writes far faster than the client parses.
std::string Repeated(const std::string& message, int count = 2000) {
  std::string out;
  for (int i = 0; i < count; ++i) out += message + "\r\n";
  return out;
}

TEST(QmpClientTest, StaleRepliesWithoutPauseStillTimeOut) {
  std::atomic<bool> stop{false};
  FakePeer peer([&](FakePeer& p) {
    p.ReadLine();
    p.Flood(Repeated(R"({"return": {}, "id": "cpuhp-stale"})"), stop);
  });
  QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
  ExpectTimeoutUnderFlood(
      stop, [&](const Deadline& deadline) { qmp.Execute("query-status", nullptr, deadline); });
}

TEST(QmpClientTest, EventsWithoutPauseStillTimeOutAndStayCapped) {
  std::atomic<bool> stop{false};
  FakePeer peer(
      [&](FakePeer& p) { p.Flood(Repeated(R"({"event": "RESUME", "data": {}})"), stop); });
  Transcript transcript;  // attached, as in real runs: every message is dumped for it
  QmpClient qmp(peer.TakeClientFd(), "qmp", &transcript);
  ExpectTimeoutUnderFlood(stop, [&](const Deadline& deadline) {
    qmp.WaitForEvent("DEVICE_DELETED", nullptr, deadline);
  });
  EXPECT_LE(qmp.events().size(), QmpClient::kMaxBufferedEvents);
}

TEST(QmpClientTest, BytesThatNeverMakeAMessageStillTimeOut) {
  std::atomic<bool> stop{false};
  FakePeer peer([&](FakePeer& p) {
    p.ReadLine();
    p.Flood(std::string(65536, '\n'), stop);
  });
  QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
  ExpectTimeoutUnderFlood(
      stop, [&](const Deadline& deadline) { qmp.Execute("query-status", nullptr, deadline); });
}

// The flood tests above depend on the peer staying ahead of the client; these
// make "always more to read" certain: everything is in the socket before a
// call whose deadline has already passed. QMP ids are cpuhp-1, cpuhp-2, ...,
// so the reply that would end the wait can be queued behind the rest.
void ExpectExpiredCallStopsBefore(const std::string& queued,
                                  const std::function<void(QmpClient&)>& call) {
  std::promise<void> written;
  FakePeer peer([&](FakePeer& p) {
    p.Write(queued);
    written.set_value();
    p.ReadLine();
    p.ReadLine();
  });
  QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
  written.get_future().wait();
  EXPECT_THROW(call(qmp), TimeoutError) << "read on past the deadline to the queued answer";
  qmp.channel().SendRaw("\n\n", Deadline::After(std::chrono::seconds(1)));
}

TEST(QmpClientTest, ExpiredDeadlineIsNotOutlivedByQueuedMessages) {
  const std::string reply = R"({"return": "too late", "id": "cpuhp-1"})"
                            "\r\n";
  auto execute = [](QmpClient& qmp) {
    qmp.Execute("query-status", nullptr, Deadline::AfterUnscaled(Clock::duration::zero()));
  };
  ExpectExpiredCallStopsBefore(Repeated(R"({"return": {}, "id": "cpuhp-0"})", 1000) + reply,
                               execute);
  ExpectExpiredCallStopsBefore(std::string(150000, ' ') + reply, execute);
  ExpectExpiredCallStopsBefore(Repeated(R"({"event": "RESUME", "data": {}})", 1000) +
                                   R"({"event": "DEVICE_DELETED"})"
                                   "\r\n",
                               [](QmpClient& qmp) {
                                 qmp.WaitForEvent("DEVICE_DELETED", nullptr,
                                                  Deadline::AfterUnscaled(Clock::duration::zero()));
                               });
}

TEST(QmpClientTest, EventBufferKeepsTheNewestUpToItsCap) {
  constexpr int kExtra = 50;
  const int total = static_cast<int>(QmpClient::kMaxBufferedEvents) + kExtra;
  FakePeer peer([&](FakePeer& p) {
    std::string id = IdOf(p.ReadLine());
    std::string events;
    for (int i = 0; i < total; ++i) {
      events += R"({"event": "ACPI_DEVICE_OST", "data": {"n": )" + std::to_string(i) + "}}\r\n";
    }
    p.Write(events + R"({"return": {}, "id": ")" + id + "\"}\r\n");
    p.ReadLine();
  });
  QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
  qmp.Execute("query-status");
  ASSERT_EQ(qmp.events().size(), QmpClient::kMaxBufferedEvents);
  EXPECT_EQ(qmp.dropped_events(), static_cast<size_t>(kExtra));
  EXPECT_EQ(qmp.events().front()["data"]["n"], kExtra) << "the oldest are dropped";
  EXPECT_EQ(qmp.events().back()["data"]["n"], total - 1);
  try {
    qmp.WaitForEvent("ACPI_DEVICE_OST", MatchData({{"n", 0}}),
                     Deadline::AfterUnscaled(std::chrono::milliseconds(100)));
    FAIL() << "expected TimeoutError";
  } catch (const TimeoutError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find(std::to_string(kExtra) + " events dropped"), std::string::npos) << what;
    EXPECT_LT(what.size(), 10000u) << "the message lists only the newest events";
  }
  qmp.channel().SendRaw("\n", Deadline::After(std::chrono::seconds(1)));
}

TEST(QmpClientTest, DeeplyNestedReplyIsAProtocolErrorAndTheClientGoesOn) {
  FakePeer peer([](FakePeer& p) {
    std::string id = IdOf(p.ReadLine());
    p.Write(R"({"id": ")" + id + R"(", "return": )" + std::string(100000, '[') +
            std::string(100000, ']') + "}\r\n");
    id = IdOf(p.ReadLine());
    p.Write(R"({"return": "fine", "id": ")" + id + "\"}\r\n");
  });
  Transcript transcript;
  QmpClient qmp(peer.TakeClientFd(), "qmp", &transcript);
  try {
    qmp.Execute("query-status");
    FAIL() << "expected ProtocolError";
  } catch (const ProtocolError& e) {
    EXPECT_NE(std::string(e.what()).find("kMaxDepth"), std::string::npos) << e.what();
  }
  EXPECT_EQ(qmp.Execute("query-status"), "fine");
}

TEST(QmpClientTest, EndlessStringFailsAtTheSizeCapNotAtTheDeadline) {
  FakePeer peer([](FakePeer& p) {
    p.ReadLine();
    p.Write("{\"return\": \"");
    std::string chunk(1 << 20, 'x');
    for (size_t sent = 0; sent <= JsonStream::kMaxMessageBytes; sent += chunk.size()) {
      if (!p.TryWrite(chunk)) return;
    }
    p.ReadLine();  // the string never ends; wait for the client to go
  });
  {
    QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
    EXPECT_THROW(
        qmp.Execute("query-status", nullptr, Deadline::AfterUnscaled(std::chrono::seconds(10))),
        ProtocolError);
  }  // closing the socket ends the peer's writes
}

TEST(QmpClientTest, GarbageDoesNotDropTheMessagesAfterIt) {
  FakePeer peer([](FakePeer& p) {
    std::string id = IdOf(p.ReadLine());
    p.Write(
        "garbage\r\n"
        R"({"event": "RESUME", "data": {}})"
        "\r\n"
        R"({"return": {}, "id": ")" +
        id + "\"}\r\n");
    p.ReadLine();
  });
  QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
  EXPECT_THROW(qmp.Execute("cont"), ProtocolError);
  EXPECT_EQ(qmp.WaitForEvent("RESUME", nullptr, Deadline::After(std::chrono::seconds(5)))["event"],
            "RESUME");
  qmp.channel().SendRaw("\n", Deadline::After(std::chrono::seconds(1)));
}

TEST(QmpClientTest, InvalidUtf8InAReplyIsReceivedAndRecorded) {
  TempDir tmp(std::filesystem::temp_directory_path(), "cpuhp-qmp-utf8-");  // gone even on failure
  const std::filesystem::path dir = tmp.path();
  {
    FakePeer peer([](FakePeer& p) {
      std::string id = IdOf(p.ReadLine());
      p.Write("{\"return\": \"bad \xff byte\", \"id\": \"" + id + "\"}\r\n");
    });
    Transcript transcript(dir / "transcript.log");
    QmpClient qmp(peer.TakeClientFd(), "qmp", &transcript);
    EXPECT_EQ(qmp.Execute("query-name"), "bad \uFFFD byte");
  }
  EXPECT_NE(ReadFileToString(dir / "transcript.log").find("bad \uFFFD byte"), std::string::npos);
}

TEST(QmpClientTest, QmpErrorMessageSurvivesInvalidUtf8InTheCommand) {
  json command = {{"execute", "device_add"}, {"arguments", {{"id", std::string("cpu\xff")}}}};
  EXPECT_NO_THROW(QmpError("GenericError", "no", command));
}

// A reply `reply` (with the command's id spliced in for ID) must be a
// ProtocolError naming the command and `field`.
void ExpectProtocolErrorFor(const std::string& reply, const std::string& field) {
  FakePeer peer([&](FakePeer& p) {
    std::string line = p.ReadLine();
    std::string text = reply;
    if (auto at = text.find("ID"); at != std::string::npos) text.replace(at, 2, IdOf(line));
    p.Write(text + "\r\n");
    p.ReadLine();
  });
  QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
  try {
    qmp.Execute("query-hotpluggable-cpus", nullptr,
                Deadline::AfterUnscaled(std::chrono::seconds(2)));
    ADD_FAILURE() << "expected ProtocolError for " << reply;
  } catch (const ProtocolError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("query-hotpluggable-cpus"), std::string::npos) << what;
    EXPECT_NE(what.find("\"" + field + "\""), std::string::npos) << what;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected ProtocolError for " << reply << ", got " << e.what();
  }
  qmp.channel().SendRaw("\n", Deadline::After(std::chrono::seconds(1)));
}

TEST(QmpClientTest, RepliesOfTheWrongTypeAreProtocolErrors) {
  ExpectProtocolErrorFor(R"({"error": "boom", "id": "ID"})", "error");
  ExpectProtocolErrorFor(R"({"error": {"class": 7, "desc": "x"}, "id": "ID"})", "error.class");
  ExpectProtocolErrorFor(R"({"error": {"class": "GenericError", "desc": []}, "id": "ID"})",
                         "error.desc");
  ExpectProtocolErrorFor(R"({"return": {}, "id": 5})", "id");
}

TEST(QmpClientTest, EventWithANonStringNameIsAProtocolError) {
  FakePeer peer([](FakePeer& p) {
    p.Write(R"({"event": 5, "data": {}})"
            "\r\n");
    p.ReadLine();
  });
  QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
  EXPECT_THROW(
      qmp.WaitForEvent("RESUME", nullptr, Deadline::AfterUnscaled(std::chrono::seconds(2))),
      ProtocolError);
  qmp.channel().SendRaw("\n", Deadline::After(std::chrono::seconds(1)));
}

TEST(QmpClientTest, GreetingOfTheWrongShapeIsAProtocolError) {
  for (std::string greeting :
       {R"({"QMP": 1})", R"({"QMP": {"version": "7.2", "capabilities": []}})",
        R"({"QMP": {"version": {"qemu": {}}, "capabilities": {}}})"}) {
    FakePeer peer([&](FakePeer& p) {
      p.Write(greeting + "\r\n");
      std::string line = p.ReadLine();
      if (!line.empty()) p.Write(R"({"return": {}, "id": ")" + IdOf(line) + "\"}\r\n");
    });
    QmpClient qmp(peer.TakeClientFd(), "qmp", nullptr);
    try {
      qmp.Handshake(Deadline::AfterUnscaled(std::chrono::seconds(2)));
      ADD_FAILURE() << "accepted " << greeting;
    } catch (const ProtocolError& e) {
      EXPECT_NE(std::string(e.what()).find("QMP greeting"), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << greeting << ": " << e.what();
    }
    qmp.channel().SendRaw("\n", Deadline::After(std::chrono::seconds(1)));
  }
}

TEST(QmpClientTest, GreetingFollowedByGarbageIsAProtocolErrorNamingTheChannel) {
  FakePeer peer([](FakePeer& p) {
    p.Write(std::string(kGreeting) + "\x01\x02 not qmp\r\n");
    p.ReadLine();
  });
  QmpClient qmp(peer.TakeClientFd(), "qmp[dst]", nullptr);
  try {
    qmp.Handshake(Deadline::AfterUnscaled(std::chrono::seconds(5)));
    FAIL() << "expected ProtocolError";
  } catch (const ProtocolError& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("qmp[dst]: expected a JSON object"), std::string::npos) << what;
    EXPECT_NE(what.find("\\x01\\x02 not qmp"), std::string::npos) << what;
  }
  qmp.channel().SendRaw("\n", Deadline::After(std::chrono::seconds(1)));
}

TEST(JsonMatchesTest, SubDictionaryMatching) {
  json ev = {{"device", "cpu1"}, {"path", "/machine/peripheral/cpu1"}};
  EXPECT_TRUE(JsonMatches(ev, {{"device", "cpu1"}}));
  EXPECT_FALSE(JsonMatches(ev, {{"device", "cpu2"}}));
  EXPECT_FALSE(JsonMatches(ev, {{"missing", 1}}));
  EXPECT_TRUE(JsonMatches(ev, json::object()));
}

}  // namespace
}  // namespace cpuhp
