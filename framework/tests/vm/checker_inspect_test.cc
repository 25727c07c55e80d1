// `cpuhp inspect` against a VM started the way kernel developers start theirs:
// QEMU listening on its QMP and agent sockets, cpuhp attaching as a client.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>
#include <thread>

#include "check/inspect.h"
#include "cli/inspect_command.h"
#include "util/fd.h"
#include "util/file.h"
#include "util/process.h"
#include "util/temp_dir.h"
#include "vm/cpu_hotplug.h"
#include "vm_fixture.h"

namespace cpuhp::testing {
namespace {

using ::testing::HasSubstr;

struct Outcome {
  int code;
  std::string out;
  std::string err;
};

Outcome RunInspectWith(std::vector<std::string> args) {
  std::ostringstream out, err;
  int code = RunInspect(args, out, err);
  return {code, out.str(), err.str()};
}

// Connects a QMP client to QEMU's listening socket, retrying until QEMU has
// created it (nothing tells when it has: a bounded poll).
QmpClient ConnectQmp(const std::filesystem::path& socket, const Deadline& deadline) {
  for (;;) {
    try {
      QmpClient qmp(ConnectUnix(socket), "qmp", nullptr);
      qmp.Handshake(deadline);
      return qmp;
    } catch (const SystemError&) {
      if (deadline.Expired()) throw;
      std::this_thread::sleep_for(milliseconds(50));
    }
  }
}

TEST(CheckerInspectTest, AttachesToAHandStartedVm) {
  MachineSpec spec =
      KitSpec("inspect", {.cpus = 1, .maxcpus = 4, .sockets = 4, .cores = 1, .threads = 1});
  TempDir dir("/tmp", "cpuhp-inspect-");
  MachinePaths paths{dir.path() / "qmp.sock", dir.path() / "qga.sock", dir.path() / "serial.log"};
  Process qemu = Process::Spawn(
      {.argv = BuildCommandLine(spec, ResolveAccel(spec.accel, spec.qemu_binary).accel, paths, SocketMode::kQemuListens),
       .output = dir.path() / "qemu.log"});
  std::vector<std::string> sockets = {"--qmp", paths.qmp_socket, "--qga", paths.agent_socket};
  {
    // QEMU is up once its QMP socket answers; the guest may still be booting.
    QmpClient qmp = ConnectQmp(paths.qmp_socket, Deadline::After(kQmpTimeout));
  }

  // The agent answers once the guest has booted: inspect waits for it.
  std::vector<std::string> args = sockets;
  args.insert(args.end(), {"--timeout", std::to_string(kBootTimeout.count())});
  Outcome first = RunInspectWith(args);
  ASSERT_EQ(first.code, 0) << first.err << first.out << TailOfFile(paths.serial_log, 20);
  EXPECT_THAT(first.out, HasSubstr("CONSISTENT (all " + std::to_string(PlainInvariantNames().size()) +
                                        " invariants hold)"));
  EXPECT_THAT(first.out, HasSubstr("/machine/unattached/device[0]"));
  EXPECT_THAT(first.out, HasSubstr("(free)"));

  {
    // Inspect let go of the sockets: a second client can plug a CPU.
    QmpClient qmp = ConnectQmp(paths.qmp_socket, Deadline::After(kQmpTimeout));
    CpuHotplug hotplug(qmp);
    hotplug.Plug(hotplug.FreeSlots().back(), "cpu-x", Deadline::After(kHotplugSettleTimeout));
  }
  args = sockets;
  args.push_back("--json");
  Outcome plugged = RunInspectWith(args);
  ASSERT_EQ(plugged.code, 0) << plugged.err << plugged.out;
  nlohmann::json j = nlohmann::json::parse(plugged.out);
  EXPECT_EQ(j["check"]["passed"], true);
  EXPECT_EQ(j["guest"]["present"], "0-1");
  EXPECT_EQ(j["guest"]["online"], "0");
  EXPECT_EQ(j["host"]["smp"]["maxcpus"], 4);
  EXPECT_EQ(j["mapping"]["slots"][3]["qom-path"], "/machine/peripheral/cpu-x");
  EXPECT_EQ(j["mapping"]["slots"][3]["guest_cpus"], nlohmann::json::array({1}));

  // Told the VM should have 5 CPUs, the verdict is "inconsistent", by name.
  args = sockets;
  args.insert(args.end(), {"--maxcpus", "5"});
  Outcome wrong = RunInspectWith(args);
  EXPECT_EQ(wrong.code, 1) << wrong.err;
  EXPECT_THAT(wrong.out, HasSubstr("FAIL  possible-count"));

  // The same through the command-line tool.
  Process cli = Process::Spawn({.argv = {CPUHP_BINARY, "inspect", "--qmp", paths.qmp_socket,
                                         "--qga", paths.agent_socket, "--json"},
                                .output = dir.path() / "inspect.json"});
  auto status = cli.Wait(Deadline::After(kAgentTimeout));
  ASSERT_TRUE(status);
  std::string printed = ReadFileToString(dir.path() / "inspect.json");
  EXPECT_EQ(status->code, 0) << printed;
  EXPECT_EQ(nlohmann::json::parse(printed)["check"]["passed"], true);

  {
    QmpClient qmp = ConnectQmp(paths.qmp_socket, Deadline::After(kQmpTimeout));
    qmp.Execute("quit");
  }
  EXPECT_TRUE(qemu.Wait(Deadline::After(kShutdownTimeout)));
}

}  // namespace
}  // namespace cpuhp::testing
