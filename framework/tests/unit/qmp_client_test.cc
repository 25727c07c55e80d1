#include "qmp/qmp_client.h"

#include <gtest/gtest.h>

#include "fake_peer.h"

namespace cpuhp {
namespace {

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

TEST(JsonMatchesTest, SubDictionaryMatching) {
  json ev = {{"device", "cpu1"}, {"path", "/machine/peripheral/cpu1"}};
  EXPECT_TRUE(JsonMatches(ev, {{"device", "cpu1"}}));
  EXPECT_FALSE(JsonMatches(ev, {{"device", "cpu2"}}));
  EXPECT_FALSE(JsonMatches(ev, {{"missing", 1}}));
  EXPECT_TRUE(JsonMatches(ev, json::object()));
}

}  // namespace
}  // namespace cpuhp
