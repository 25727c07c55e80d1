// The failure taxonomy: one name table, and every error type says its kind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "guest/agent_client.h"
#include "qmp/qmp_client.h"
#include "util/error.h"
#include "vm/migration.h"

namespace cpuhp {
namespace {

constexpr FailureKind kAllKinds[] = {
    FailureKind::kError,      FailureKind::kSetup,    FailureKind::kCancelled,
    FailureKind::kCheck,      FailureKind::kExpectation, FailureKind::kQmp,
    FailureKind::kAgent,      FailureKind::kTimeout,  FailureKind::kConnection,
    FailureKind::kProtocol,   FailureKind::kLaunch,   FailureKind::kSystem,
    FailureKind::kMigration,  FailureKind::kLibvirt,
};

TEST(FailureKindTest, EveryKindHasItsOwnNameAndReadsBack) {
  std::set<std::string_view> names;
  for (FailureKind kind : kAllKinds) {
    std::string_view name = FailureKindName(kind);
    EXPECT_TRUE(names.insert(name).second) << "two kinds named " << name;
    EXPECT_EQ(FailureKindFromName(name), kind) << name;
  }
  EXPECT_EQ(FailureKindFromName("qmp-error"), std::nullopt);
  // The names reports and scenarios already use stay as they were.
  EXPECT_EQ(FailureKindName(FailureKind::kCheck), "check");
  EXPECT_EQ(FailureKindName(FailureKind::kSetup), "setup");
  EXPECT_EQ(FailureKindName(FailureKind::kConnection), "connection");
}

TEST(FailureKindTest, EachErrorTypeSaysItsKind) {
  auto kind_of = [](const Error& e) { return e.kind(); };
  EXPECT_EQ(kind_of(Error("x")), FailureKind::kError);
  EXPECT_EQ(kind_of(TimeoutError("x")), FailureKind::kTimeout);
  EXPECT_EQ(kind_of(ConnectionError("x")), FailureKind::kConnection);
  EXPECT_EQ(kind_of(ProtocolError("x")), FailureKind::kProtocol);
  EXPECT_EQ(kind_of(SystemError("open", 2)), FailureKind::kSystem);
  EXPECT_EQ(kind_of(LaunchError("x")), FailureKind::kLaunch);
  EXPECT_EQ(kind_of(CheckFailure("x")), FailureKind::kCheck);
  EXPECT_EQ(kind_of(QmpError("GenericError", "no", {{"execute", "device_add"}})),
            FailureKind::kQmp);
  AgentError agent("GenericError", "no", {{"execute", "guest-file-open"}});
  EXPECT_EQ(kind_of(agent), FailureKind::kAgent);
  EXPECT_EQ(agent.command().value("execute", ""), "guest-file-open");  // kept, like QmpError's
  EXPECT_EQ(kind_of(MigrationError("x")), FailureKind::kMigration);
  EXPECT_EQ(kind_of(MigrationCheckFailure("x", {})), FailureKind::kCheck);
}

// Like QEMU's VMLaunchFailure(exitcode, command, output): what a caller
// branches on is a field; the message stays what it was given, and context
// added on the way up leaves the fields alone.
TEST(FailureKindTest, ALaunchErrorKeepsItsExitStatusCommandAndTails) {
  LaunchError e("vm a: QEMU exited",
                {.command = {"qemu-system-x86_64", "-smp", "2"},
                 .exit_status = ExitStatus{.code = 1},
                 .qemu_log_tail = "qemu: bad option\n",
                 .serial_tail = "Linux version\n"});
  e.AddContext("more");
  EXPECT_STREQ(e.what(), "vm a: QEMU exited\n  more");
  const LaunchDetails& d = e.details();
  EXPECT_EQ(d.command, (std::vector<std::string>{"qemu-system-x86_64", "-smp", "2"}));
  ASSERT_TRUE(d.exit_status);
  EXPECT_EQ(d.exit_status->Describe(), "exit code 1");
  EXPECT_EQ(d.qemu_log_tail, "qemu: bad option\n");
  EXPECT_EQ(d.serial_tail, "Linux version\n");
  EXPECT_FALSE(LaunchError("x").details().exit_status) << "nothing known: empty fields";
}

}  // namespace
}  // namespace cpuhp
