// `cpuhp inspect` without a VM: its arguments, its exit codes on bad usage
// and unreachable sockets, and how it lays out a real captured view.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "captured_guest.h"
#include "check/inspect.h"
#include "cli/inspect_command.h"
#include "util/temp_dir.h"

namespace cpuhp::testing {
namespace {

using ::testing::HasSubstr;

int RunIt(const std::vector<std::string>& args, std::string* out, std::string* err) {
  std::ostringstream o, e;
  int code = RunInspect(args, o, e);
  *out = o.str();
  *err = e.str();
  return code;
}

TEST(CheckInspectTest, ParsesItsArguments) {
  std::string error;
  auto o = ParseInspectArgs({"--qmp", "/q", "--qga", "/a", "--json", "--maxcpus", "8", "--only",
                             "identity,cpuinfo-count", "--timeout", "5"},
                            &error);
  ASSERT_TRUE(o) << error;
  EXPECT_EQ(o->qmp_socket, "/q");
  EXPECT_EQ(o->qga_socket, "/a");
  EXPECT_TRUE(o->json);
  EXPECT_EQ(o->maxcpus, 8);
  EXPECT_EQ(o->only, (std::vector<std::string>{"identity", "cpuinfo-count"}));
  EXPECT_EQ(o->timeout, seconds(5));
}

TEST(CheckInspectTest, BadUsageExitsTwo) {
  std::string out, err;
  EXPECT_EQ(RunIt({}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("both --qmp and --qga are needed"));
  EXPECT_THAT(err, HasSubstr("usage: cpuhp inspect"));
  EXPECT_EQ(RunIt({"--qmp", "/q", "--qga", "/a", "--only", "identiy"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("unknown invariant \"identiy\""));
  EXPECT_EQ(RunIt({"--qmp", "/q", "--qga", "/a", "--maxcpus", "many"}, &out, &err), 2);
  EXPECT_EQ(RunIt({"--qmp"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("--qmp needs a value"));
  EXPECT_EQ(RunIt({"--help"}, &out, &err), 0);
  EXPECT_THAT(out, HasSubstr("Exit status: 0 consistent, 1 inconsistent, 2 usage"));
}

TEST(CheckInspectTest, UnreachableVmExitsTwo) {
  TempDir dir("/tmp", "cpuhp-inspect-test-");
  std::string missing = (dir.path() / "no-such.sock").string();
  std::string out, err;
  EXPECT_EQ(RunIt({"--qmp", missing, "--qga", missing}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr(missing));
  EXPECT_TRUE(out.empty());
}

TEST(CheckInspectTest, TableOfARealGuest) {
  CapturedGuest g = LoadCapturedGuest("intel-2s2c2t-plugged");
  Inspection in{g.host, g.guest, RunChecks(g.host, g.guest, {}), milliseconds(420)};
  std::string text = FormatInspection(in);
  // cpu3 was plugged into the last slot: its row sits with that slot.
  EXPECT_THAT(text, HasSubstr("cpu3   no      n/a"));
  EXPECT_THAT(text, ::testing::ContainsRegex(
                        "cpu3 .* C007 +\\| +1/-/1/1 +7 +7 +/machine/peripheral/cpu-s1c1t1"));
  EXPECT_THAT(text, ::testing::ContainsRegex("cpu0 +fixed +236 online -> 0 offline"));
  EXPECT_THAT(text, HasSubstr("guest snapshot read in 0.42 s"));
  EXPECT_THAT(text, HasSubstr("verdict: CONSISTENT"));

  g.guest.cpus.at(1).hotplug_state = 235;
  in.result = RunChecks(g.host, g.guest, {});
  in.guest = g.guest;
  text = FormatInspection(in);
  EXPECT_THAT(text, HasSubstr("235 sched:active -> 236 online"));
  EXPECT_THAT(text, HasSubstr("INCONSISTENT (2 of " + std::to_string(PlainInvariantNames().size()) +
                              " invariants fail)"));
  EXPECT_THAT(text,
              HasSubstr("FAIL  state-settled\n          cpu1 hotplug/state=235 (sched:active)"));

  nlohmann::json j = ToJson(in);
  EXPECT_EQ(j["check"]["passed"], false);
  EXPECT_EQ(j["guest"]["cpus"][3]["firmware_node"], "\\_SB_.CPUS.C007");
  EXPECT_EQ(j["mapping"]["slots"][7]["guest_cpus"], nlohmann::json::array({3}));
  EXPECT_DOUBLE_EQ(j["snapshot_seconds"].get<double>(), 0.42);
}

}  // namespace
}  // namespace cpuhp::testing
