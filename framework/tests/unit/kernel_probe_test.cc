// The deep probe's parsers (guest/kernel_probe.h) on text as Linux 6.1 writes
// it, on hostile text, and the probe itself over a fake file tree.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include "guest/cpu_snapshot.h"
#include "guest/kernel_probe.h"

namespace cpuhp {
namespace {

using ::testing::HasSubstr;

// /proc/152/stat of a busy loop, from a 6.1 guest (fields 3 and 39: R, 3).
constexpr char kStat[] =
    "152 (sh) R 1 1 0 0 -1 4194304 96 0 0 0 1003 0 0 0 20 0 1 0 2930 2273280 93 "
    "18446744073709551615 4194304 5012609 140728797343600 0 0 0 0 0 65538 0 0 0 17 3 0 0 0 0 0 "
    "5918752 5938720 6193152 140728797347678 140728797347701 140728797347701 140728797347822 0\n";

TEST(KernelProbeTest, ProcStatStateAndProcessor) {
  EXPECT_EQ(ParseProcStat(kStat, "stat"), (std::pair<char, int>{'R', 3}));
  // The command may hold spaces and ')': fields count from the last ')'.
  std::string odd = std::string(kStat);
  odd.replace(odd.find("(sh)"), 4, "(a) b) c)");
  EXPECT_EQ(ParseProcStat(odd, "stat"), (std::pair<char, int>{'R', 3}));
}

TEST(KernelProbeTest, ProcStatRefusesShortOrBrokenText) {
  EXPECT_THROW(ParseProcStat("152 (sh) R 1 1", "/proc/152/stat"), ProtocolError);
  EXPECT_THROW(ParseProcStat("152 sh R", "/proc/152/stat"), ProtocolError);
  std::string bad = kStat;
  bad.replace(bad.find(" 17 3 "), 6, " 17 x ");
  try {
    ParseProcStat(bad, "/proc/152/stat");
    FAIL() << "accepted a processor that is not a number";
  } catch (const ProtocolError& e) {
    EXPECT_THAT(e.what(), HasSubstr("/proc/152/stat: expected state (field 3) and processor"));
  }
}

TEST(KernelProbeTest, CpusAllowedList) {
  EXPECT_EQ(ParseCpusAllowed("Name:\tsh\nCpus_allowed:\t3ff\nCpus_allowed_list:\t0-9\nMems_allowed:\t1\n",
                             "status"),
            CpuSet::Range(0, 9));
  EXPECT_THROW(ParseCpusAllowed("Name:\tsh\n", "status"), ProtocolError);
  // A key that only ends like it does not count.
  EXPECT_THROW(ParseCpusAllowed("XCpus_allowed_list:\t1\n", "status"), ProtocolError);
  EXPECT_THROW(ParseCpusAllowed("Cpus_allowed_list:\tnope\n", "status"), CpuListError);
}

TEST(KernelProbeTest, InterruptLinesAreTheNumberedOnes) {
  constexpr char kInterrupts[] =
      "           CPU0       CPU1       \n"
      "  0:        221          0  local-APIC   2-edge      timer\n"
      " 25:          0          8   PCI-MSI 16385-edge      virtio0-virtqueues\n"
      "NMI:          0          0   Non-maskable interrupts\n"
      "ERR:          0\n";
  auto lines = ParseInterruptLines(kInterrupts);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], (std::pair<int, std::string>{0, "timer"}));
  EXPECT_EQ(lines[1], (std::pair<int, std::string>{25, "virtio0-virtqueues"}));
}

TEST(KernelProbeTest, InterruptLinesAreBounded) {
  std::string many;
  for (size_t i = 0; i <= kMaxIrqs; ++i) many += std::to_string(i) + ": 0 x\n";
  try {
    ParseInterruptLines(many);
    FAIL() << "accepted more than kMaxIrqs lines";
  } catch (const ProtocolError& e) {
    EXPECT_THAT(e.what(), HasSubstr("kMaxIrqs"));
  }
  // A name is cut and made terminal-safe.
  auto one = ParseInterruptLines("7: 0 " + std::string(200, 'n') + "\x1b\n");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_LE(one[0].second.size(), 64u);
}

TEST(KernelProbeTest, PerCpuCounts) {
  EXPECT_EQ(ParsePerCpuCount("0,9,0,0\n", "c"), (std::vector<uint64_t>{0, 9, 0, 0}));
  EXPECT_EQ(ParsePerCpuCount("\n", "c"), std::vector<uint64_t>{});
  EXPECT_THROW(ParsePerCpuCount("0,,1", "c"), ProtocolError);
  EXPECT_THROW(ParsePerCpuCount("0,-1", "c"), ProtocolError);
  std::string many;
  for (size_t i = 0; i <= kMaxPerCpuCounts; ++i) many += i ? ",0" : "0";
  EXPECT_THROW(ParsePerCpuCount(many, "c"), ProtocolError);
}

TEST(KernelProbeTest, EnableKnowsTheProbeWords) {
  DeepProbe p;
  EXPECT_FALSE(p.Any());
  for (const char* name : kDeepProbeNames) EXPECT_TRUE(p.Enable(name)) << name;
  EXPECT_TRUE(p.watch_tasks && p.irqs && p.cpusets && p.smt);
  EXPECT_FALSE(p.Enable("numa"));
}

// A guest whose files are a map; what is not in it does not exist.
class MapFiles : public GuestFiles {
 public:
  std::map<std::string, std::string> files;
  std::optional<std::string> TryRead(const std::string& path, const Deadline&) override {
    auto it = files.find(path);
    if (it == files.end()) return std::nullopt;
    return it->second;
  }
  std::vector<GuestVcpu> GetVcpus(const Deadline&) override { return {}; }
};

TEST(KernelProbeTest, ReadsWhatTheProbeAsksFor) {
  MapFiles g;
  g.files["/proc/152/stat"] = kStat;
  g.files["/proc/152/status"] = "Cpus_allowed_list:\t3\n";
  g.files["/proc/interrupts"] = "  25:  0  8  PCI-MSI 16385-edge  virtio0-virtqueues\n";
  g.files["/proc/irq/25/effective_affinity_list"] = "1\n";
  g.files["/sys/kernel/irq/25/per_cpu_count"] = "0,8\n";
  g.files["/sys/fs/cgroup/cpuset.cpus.effective"] = "0-3\n";
  g.files["/sys/fs/cgroup/a/cpuset.cpus"] = "1-3\n";
  g.files["/sys/fs/cgroup/a/cpuset.cpus.effective"] = "1-3\n";
  g.files["/sys/devices/system/cpu/smt/control"] = "off\n";
  g.files["/sys/devices/system/cpu/smt/active"] = "0\n";
  DeepProbe probe{.tasks = {152, 999}, .irqs = true, .cgroups = {"a"}, .cpusets = true, .smt = true};
  DeepView v = ReadDeepView(g, probe, Deadline::After(std::chrono::seconds(5)));
  EXPECT_EQ(v.tasks.at(152).state, 'R');
  EXPECT_EQ(v.tasks.at(152).processor, 3);
  EXPECT_EQ(v.tasks.at(152).allowed, CpuSet{3});
  EXPECT_FALSE(v.tasks.at(999).exists);
  ASSERT_EQ(v.irqs.size(), 1u);
  EXPECT_EQ(v.irqs[0].effective, CpuSet{1});
  EXPECT_EQ(v.irqs[0].affinity, std::nullopt);
  EXPECT_EQ(v.irqs[0].per_cpu_count, (std::vector<uint64_t>{0, 8}));
  ASSERT_EQ(v.cgroups.size(), 2u);
  EXPECT_EQ(v.cgroups[0].cpus, std::nullopt);
  EXPECT_EQ(v.cgroups[1].effective, CpuSet::Range(1, 3));
  EXPECT_EQ(v.smt_control, "off");
  EXPECT_EQ(v.smt_active, false);
  g.files["/sys/devices/system/cpu/smt/active"] = "maybe\n";
  DeepProbe smt_only;
  smt_only.smt = true;
  EXPECT_THROW(ReadDeepView(g, smt_only, Deadline::After(std::chrono::seconds(5))), ProtocolError);
}

}  // namespace
}  // namespace cpuhp
