// Migration failing on purpose, on real QEMU (issue 5): the bug cpuhp exists
// to catch (a destination without a plugged CPU's -device), hotplug commands
// during a migration, and either side dying mid-way. In every case the error
// must say what happened, the source must keep running where QEMU allows, and
// no QEMU may be left behind.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "migration_fixture.h"
#include "util/fd.h"

namespace cpuhp::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// Boots a guest with cpu1 plugged and online.
class MigrationFailureTest : public MigrationTest {
 protected:
  Machine& BootWithPluggedCpu() {
    Machine& src = BootGuest(KitSpec("src", {.cpus = 1, .maxcpus = 4}));
    Plug(src, "cpu1");
    OnlineAll(src, 2);
    view_before_ = ReadHostView(src.Qmp());
    guest_before_ = ReadGuestSnapshot(src.Agent());
    return src;
  }

  // The source runs the guest exactly as before the failed attempt.
  void ExpectSourceUnharmed(Machine& src) {
    EXPECT_TRUE(src.Running());
    EXPECT_EQ(src.Qmp().Execute("query-status").value("status", ""), "running");
    src.Agent().Ping();
    EXPECT_THAT(CompareHostViews(view_before_, ReadHostView(src.Qmp())), IsEmpty());
    EXPECT_THAT(CompareGuestSnapshots(guest_before_, ReadGuestSnapshot(src.Agent())), IsEmpty());
    ExpectConsistent(src);
  }

  // Runs Migrate() expecting MigrationError; returns its message.
  std::string ExpectMigrationError(Machine& src, const std::string& name,
                                   const MigrationOptions& options, MigrationResult* r) {
    try {
      auto dst = Migrate(src, DestinationDir(name), options, r);
      ADD_FAILURE() << "the migration to " << name << " succeeded (status " << r->status << ")";
    } catch (const MigrationError& e) {
      // No QEMU of the destination survives a failed migration.
      EXPECT_THAT(QemuProcessesMentioning(DestinationDir(name).string()), IsEmpty());
      return e.what();
    }
    return "";
  }

  HostView view_before_;
  GuestSnapshot guest_before_;
};

// Wrong on purpose: the destination is started without cpu1's -device. QEMU
// 7.2's destination cannot place cpu1's state ("Unknown savevm section or
// instance 'cpu_common' 1") and exits; through the return path the source
// learns of it, fails the migration and resumes the guest.
TEST_F(MigrationFailureTest, DestinationWithoutAPluggedCpusDeviceFailsTheMigration) {
  Machine& src = BootWithPluggedCpu();
  MigrationResult r;
  MigrationOptions options;
  options.omit_cpu_devices = {"cpu1"};
  std::string message = ExpectMigrationError(src, "dst", options, &r);

  EXPECT_THAT(message, AllOf(HasSubstr("failed"),
                             HasSubstr("Unknown savevm section or instance 'cpu_common' 1"),
                             HasSubstr("the source keeps running the guest")));
  EXPECT_EQ(r.status, "failed");
  EXPECT_THAT(ShellQuote(r.destination_args), Not(HasSubstr("id=cpu1")));
  ExpectSourceUnharmed(src);
}

// The same mistake without the return path: QEMU's source reports
// "completed" for a stream the destination rejected. cpuhp still fails the
// migration, because the destination never runs.
TEST_F(MigrationFailureTest, WithoutTheReturnPathTheSourceSaysCompletedButCpuhpFails) {
  Machine& src = BootWithPluggedCpu();
  MigrationResult r;
  MigrationOptions options;
  options.omit_cpu_devices = {"cpu1"};
  options.return_path = false;
  std::string message = ExpectMigrationError(src, "dst", options, &r);

  EXPECT_EQ(r.status, "completed");  // what the source QEMU said
  EXPECT_THAT(message, AllOf(HasSubstr("the source reported completed"),
                             HasSubstr("Unknown savevm section or instance 'cpu_common' 1")));
  // The source handed its state off: it stays paused for good.
  EXPECT_EQ(src.Qmp().Execute("query-status").value("status", ""), "postmigrate");
}

// device_add and device_del while the migration runs: QEMU 7.2 refuses both
// with GenericError, and the migration carries on to completion unchanged.
TEST_F(MigrationFailureTest, DeviceAddAndDeviceDelAreRefusedDuringMigration) {
  Machine& src = BootWithPluggedCpu();
  MigrationResult r;
  MigrationOptions options;
  options.probe_hotplug = true;
  options.max_bandwidth = 16 << 20;  // keep it active while the probes run
  Machine& dst = MigrateTo(src, "dst", options, &r);

  ASSERT_EQ(r.probes.size(), 2u);
  EXPECT_EQ(r.probes[0].command, "device_add");
  EXPECT_FALSE(r.probes[0].accepted);
  EXPECT_EQ(r.probes[0].error_class, "GenericError");
  EXPECT_EQ(r.probes[0].desc, "device_add not allowed while migrating");
  EXPECT_EQ(r.probes[1].command, "device_del");
  EXPECT_EQ(r.probes[1].arguments, (nlohmann::json{{"id", "cpu1"}}));
  EXPECT_FALSE(r.probes[1].accepted);
  EXPECT_EQ(r.probes[1].error_class, "GenericError");
  EXPECT_EQ(r.probes[1].desc, "device_del not allowed while migrating");

  EXPECT_EQ(r.status, "completed");
  EXPECT_THAT(r.differences, IsEmpty());
  EXPECT_THAT(CompareHostViews(view_before_, ReadHostView(dst.Qmp())), IsEmpty());
  ExpectConsistent(dst);
}

// The destination dies mid-migration: the source notices, fails the
// migration and keeps running; the error says so.
TEST_F(MigrationFailureTest, DestinationKilledMidMigrationLeavesTheSourceRunning) {
  Machine& src = BootWithPluggedCpu();
  MigrationResult r;
  MigrationOptions options;
  options.max_bandwidth = 4 << 20;  // ~20 s to send: it dies well before the end
  options.fault = MigrationOptions::Fault::kKillDestination;
  options.fault_after = std::chrono::milliseconds(1000);
  std::string message = ExpectMigrationError(src, "dst", options, &r);

  EXPECT_THAT(message, AllOf(HasSubstr("failed"), HasSubstr("killed by signal 9"),
                             HasSubstr("the source keeps running the guest")));
  EXPECT_EQ(r.status, "failed");
  ExpectSourceUnharmed(src);
}

// The source dies mid-migration: the destination, waiting for a stream that
// will never end, is stopped; the error says which side died; nothing is left.
TEST_F(MigrationFailureTest, SourceKilledMidMigrationFailsClearlyWithoutOrphans) {
  Machine& src = BootWithPluggedCpu();
  MigrationResult r;
  MigrationOptions options;
  options.max_bandwidth = 4 << 20;
  options.fault = MigrationOptions::Fault::kKillSource;
  options.fault_after = std::chrono::milliseconds(1000);
  std::string message = ExpectMigrationError(src, "dst", options, &r);

  EXPECT_THAT(message, AllOf(HasSubstr("the source QEMU died mid-migration"),
                             HasSubstr("killed by signal 9"), HasSubstr("nothing is left running")));
  EXPECT_FALSE(src.Running());
  EXPECT_THAT(QemuProcessesMentioning(src.artifacts_dir().string()), IsEmpty());
}

// A migration that cannot finish in time is cancelled, the error says why and
// what to tune, and the source keeps running.
TEST_F(MigrationFailureTest, TimeoutCancelsTheMigrationAndSaysWhatToTune) {
  Machine& src = BootWithPluggedCpu();
  MigrationResult r;
  MigrationOptions options;
  options.max_bandwidth = 1 << 20;  // ~80 s to send
  options.timeout = std::chrono::seconds(5);
  std::string message = ExpectMigrationError(src, "dst", options, &r);

  EXPECT_THAT(message, AllOf(HasSubstr("did not complete within"), HasSubstr("max_bandwidth"),
                             HasSubstr("the source keeps running")));
  ExpectSourceUnharmed(src);
}

}  // namespace
}  // namespace cpuhp::testing
