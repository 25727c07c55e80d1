// The QEMU command line built from a MachineSpec.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "vm/machine_spec.h"

namespace cpuhp {
namespace {

using ::testing::Contains;

// The value after `option` in argv, or "" when absent.
std::string ValueOf(const std::vector<std::string>& argv, const std::string& option, int nth = 0) {
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == option && nth-- == 0) return argv[i + 1];
  }
  return "";
}

// A matrix run label such as "hang[4,1]" ends up in -name and in artifact
// paths; QEMU parses both as QemuOpts, where a lone comma starts a new option.
TEST(MachineSpecTest, CommasInNamesAndPathsAreDoubled) {
  MachineSpec spec;
  spec.name = "topology[4,1]";
  spec.disk = "/img/a,b.qcow2";
  auto argv = BuildCommandLine(spec, Accel::kTcg,
                               {"/run/x,y/qmp.sock", "/run/x,y/qga.sock", "/art/t[4,1]/serial.log"});
  EXPECT_EQ(ValueOf(argv, "-name"), "guest=topology[4,,1],debug-threads=on");
  EXPECT_EQ(ValueOf(argv, "-chardev", 0), "socket,id=qmp0,path=/run/x,,y/qmp.sock");
  EXPECT_EQ(ValueOf(argv, "-chardev", 1), "file,id=serial0,path=/art/t[4,,1]/serial.log");
  EXPECT_EQ(ValueOf(argv, "-chardev", 2), "socket,id=qga0,path=/run/x,,y/qga.sock");
  EXPECT_EQ(ValueOf(argv, "-drive"), "file=/img/a,,b.qcow2,if=virtio,snapshot=on");
}

// Machine puts the console on a socket it pumps into serial.log itself
// (bounded); the same QemuOpts escaping applies.
TEST(MachineSpecTest, TheConsoleGoesToASocketWhenOneIsGiven) {
  MachineSpec spec;
  auto argv = BuildCommandLine(
      spec, Accel::kTcg,
      {"/run/x,y/qmp.sock", "/run/x,y/qga.sock", "/art/serial.log", "/run/x,y/console.sock"});
  EXPECT_EQ(ValueOf(argv, "-chardev", 1), "socket,id=serial0,path=/run/x,,y/console.sock");
  EXPECT_EQ(ValueOf(argv, "-serial"), "chardev:serial0");
}

TEST(MachineSpecTest, TcgIsNamedAndTopologyIsComplete) {
  MachineSpec spec;
  spec.smp = {.cpus = 2, .maxcpus = 8, .sockets = 2, .cores = 2, .threads = 2};
  auto argv = BuildCommandLine(spec, Accel::kTcg, {"/q", "/a", "/s"});
  EXPECT_EQ(ValueOf(argv, "-accel"), "tcg");
  EXPECT_EQ(ValueOf(argv, "-smp"), "2,maxcpus=8,sockets=2,cores=2,threads=2");
  EXPECT_THAT(argv, Contains("-no-reboot"));
}

}  // namespace
}  // namespace cpuhp
