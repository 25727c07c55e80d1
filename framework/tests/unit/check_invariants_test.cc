// The invariants on real captured views (all must hold), and one broken view
// per invariant (each must be able to fail, and say where).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "captured_guest.h"
#include "check/checker.h"

namespace cpuhp::testing {
namespace {

using ::testing::HasSubstr;

SmpTopology Smp(int cpus, int maxcpus, int sockets, int cores, int threads) {
  return {.cpus = cpus, .maxcpus = maxcpus, .sockets = sockets, .cores = cores, .threads = threads};
}

const SmpTopology k2s2c2t = Smp(2, 8, 2, 2, 2);
const SmpTopology k4s = Smp(1, 4, 4, 1, 1);

std::set<std::string> FailingNames(const CheckResult& r) {
  std::set<std::string> out;
  for (const auto& f : r.Failures()) out.insert(f.name);
  return out;
}

TEST(CheckInvariantsTest, RealGuestsAreConsistent) {
  auto boot_states = LoadCapturedGuest("intel-2s2c2t-boot").guest.states;
  struct Case {
    const char* name;
    SmpTopology smp;
  };
  for (const Case& c :
       {Case{"intel-2s2c2t-boot", k2s2c2t}, Case{"intel-2s2c2t-plugged", k2s2c2t},
        Case{"intel-2s2c2t-onlined", k2s2c2t}, Case{"intel-2s2c2t-cpu1-offline", k2s2c2t},
        Case{"amd-2s2c2t-onlined", k2s2c2t}, Case{"amd-4s-plugged", k4s},
        Case{"amd-4s-onlined", k4s}, Case{"amd-4s-unplugged", k4s}}) {
    SCOPED_TRACE(c.name);
    CapturedGuest g = LoadCapturedGuest(c.name);
    CheckResult r = RunChecks(g.host, g.guest, {.baseline_states = boot_states, .smp = c.smp});
    EXPECT_TRUE(r.Passed()) << r.Summary();
    // The deep invariants (tasks, IRQs, cpusets, SMT) run only when probed.
    size_t always = 0;
    for (const auto& name : InvariantNames()) always += InvariantProbe(name).empty() ? 1 : 0;
    EXPECT_EQ(r.invariants.size(), always);
    EXPECT_EQ(r.Summary(), "all " + std::to_string(always) + " invariants hold");
  }
}

TEST(CheckInvariantsTest, MachineSmpFromARealReply) {
  nlohmann::json reply = LoadJsonFile(std::filesystem::path(CPUHP_TEST_DATA_DIR) / "qmp" /
                                      "qom-get-machine-smp-2s2c2t.json");
  SmpTopology smp = ParseMachineSmp(reply.at("return"));
  EXPECT_EQ(smp, (SmpTopology{
                     .cpus = 2, .maxcpus = 8, .sockets = 2, .dies = 1, .cores = 2, .threads = 2}));
  // QEMU's own -smp is what the guest's possible mask is held to.
  CapturedGuest g = LoadCapturedGuest("intel-2s2c2t-onlined");
  g.host.smp = smp;
  EXPECT_TRUE(RunChecks(g.host, g.guest, {}).Passed());
  g.host.smp->maxcpus = 12;
  CheckResult r = RunChecks(g.host, g.guest, {.only = {"possible-count"}});
  EXPECT_THAT(r.Summary(), HasSubstr("possible mask 0-7 (8 CPUs), expected 12 (maxcpus) "
                                     "[guest /sys/devices/system/cpu/possible vs QMP qom-get "
                                     "/machine smp]"));
}

TEST(CheckInvariantsTest, NotesSayWhatWasNotObservable) {
  CapturedGuest g = LoadCapturedGuest("intel-2s2c2t-onlined");
  CheckResult r = RunChecks(g.host, g.guest, {.smp = k2s2c2t});
  const InvariantResult* settled = r.Find("state-settled");
  ASSERT_NE(settled, nullptr);
  EXPECT_THAT(settled->note, HasSubstr("not observable for cpus 2-3"));
  EXPECT_THAT(settled->note, HasSubstr("cpu0 hotplug/target=0 (offline)"));
  EXPECT_THAT(r.Find("states-stable")->note, HasSubstr("no baseline"));
  EXPECT_THAT(r.Find("identity")->note, HasSubstr("GenuineIntel"));
}

// One way to break each invariant, starting from a consistent real view
// (intel-2s2c2t-onlined: possible 0-7, present/online 0-3; cpu2 is slot
// socket0/core1/thread0 and cpu3 slot socket1/core1/thread1, both hot-added).
struct Breakage {
  std::string invariant;
  std::string what;
  std::function<void(HostView&, GuestSnapshot&, CheckOptions&)> apply;
  // Substrings the failure's detail must contain.
  std::vector<std::string> detail;
  // Every invariant that fails (the named one among them): a view broken in
  // one place can break several rules, and no more than these.
  std::set<std::string> failing;
};

HotpluggableCpu& SlotWithPath(HostView& h, const std::string& qom) {
  for (auto& s : h.slots) {
    if (s.qom_path == qom) return s;
  }
  throw Error("no slot " + qom);
}

// A consistent deep view over intel-2s2c2t-onlined (online 0-3, possible
// 0-7; cpu0/cpu1 are threads 0 and 1 of one core): a busy task on cpu2, an
// IRQ on cpu0, a cgroup "a" with cpus 1-5, SMT on.
void AddDeepView(GuestSnapshot& g, CheckOptions& o) {
  DeepView d;
  d.tasks[100] = {.pid = 100, .exists = true, .state = 'R', .processor = 2, .allowed = CpuSet::Range(0, 7)};
  d.irqs_read = true;
  d.irqs.push_back({.irq = 24, .name = "virtio0-req.0", .effective = CpuSet{0},
                    .affinity = CpuSet::Range(0, 7), .per_cpu_count = {7, 0, 0, 0, 0, 0, 0, 0}});
  d.cpusets_read = true;
  d.cgroups.push_back({.name = "", .cpus = std::nullopt, .effective = CpuSet::Range(0, 3)});
  d.cgroups.push_back({.name = "a", .cpus = CpuSet::Range(1, 5), .effective = CpuSet::Range(1, 3)});
  d.smt_read = true;
  d.smt_control = "on";
  d.smt_active = true;
  g.deep = d;
  for (const char* probe : kDeepProbeNames) o.deep.Enable(probe);
  o.previous_irqs = IrqCountsBaseline{.online = CpuSet::Range(0, 3), .counts = {{24, {5, 0, 0, 0, 0, 0, 0, 0}}}};
}

// A consistent NUMA layout of the capture: QEMU's node-id is the socket, and
// the guest agrees (node0: cpus 0-2, node1: cpu3).
void NumaBySocket(HostView& h, GuestSnapshot& g) {
  for (auto& s : h.slots) s.props.node_id = s.props.socket_id;
  for (auto& c : h.cpus) c.props.node_id = c.props.socket_id;
  g.node_cpus = {{0, {0, 1, 2}}, {1, {3}}};
  for (int cpu : {0, 1, 2}) g.cpus.at(cpu).node_links = {0};
  g.cpus.at(3).node_links = {1};
}

TEST(CheckInvariantsTest, NumaLayoutTheGuestAgreesWithPasses) {
  CapturedGuest g = LoadCapturedGuest("intel-2s2c2t-onlined");
  EXPECT_THAT(RunChecks(g.host, g.guest, {.only = {"numa-node"}}).Find("numa-node")->note,
              HasSubstr("no -numa"));
  NumaBySocket(g.host, g.guest);
  CheckResult r = RunChecks(g.host, g.guest, {.smp = k2s2c2t});
  EXPECT_TRUE(r.Passed()) << r.Summary();
  // An offline CPU leaves nodeM/cpulist on x86 but keeps its link.
  g.guest.node_cpus[0] = {0, 2};
  g.guest.online.Erase(1);
  EXPECT_TRUE(RunChecks(g.host, g.guest, {.only = {"numa-node"}}).Passed());
}

// libvirt's view of `slots` as a libvirt that agrees with QEMU would give it.
LibvirtView LibvirtViewOf(std::vector<HotpluggableCpu> slots) {
  std::sort(slots.begin(), slots.end(), SlotOrderLess);
  LibvirtView v;
  int plugged = 0;
  for (size_t i = 0; i < slots.size(); ++i) {
    v.vcpus.push_back({static_cast<int>(i), slots[i].plugged(), true, std::nullopt});
    plugged += slots[i].plugged();
  }
  v.xml_current = v.live_count = plugged;
  v.xml_maximum = v.maximum_count = static_cast<int>(slots.size());
  return v;
}

std::vector<Breakage> Breakages() {
  return {
      {"masks-ordered",
       "possible goes past kernel_max",
       [](HostView&, GuestSnapshot& g, CheckOptions&) { g.kernel_max = 3; },
       {"possible mask 0-7 goes past kernel_max 3"},
       {"masks-ordered"}},
      {"masks-ordered",
       "a CPU online but not present",
       [](HostView&, GuestSnapshot& g, CheckOptions&) { g.present = CpuSet::Range(0, 2); },
       {"online mask 0-3 has 3 that is not present"},
       {"masks-ordered", "present-count", "removed-cpus-gone"}},
      {"offline-complement",
       "offline misses a CPU",
       [](HostView&, GuestSnapshot& g, CheckOptions&) { g.offline = CpuSet::Range(5, 7); },
       {"offline mask 5-7 (4 missing), expected possible - online = 4-7"},
       {"offline-complement"}},
      {"possible-count",
       "possible smaller than maxcpus",
       [](HostView&, GuestSnapshot& g, CheckOptions&) {
         g.possible = CpuSet::Range(0, 6);
         g.offline = CpuSet::Range(4, 6);
       },
       {"possible mask 0-6 (7 CPUs), expected 8 (maxcpus)"},
       {"possible-count"}},
      {"possible-count",
       "QEMU started with another maxcpus than asked",
       [](HostView&, GuestSnapshot&, CheckOptions& o) { o.smp = Smp(2, 16, 2, 4, 2); },
       {"possible mask 0-7 (8 CPUs), expected 16 (maxcpus)", "QEMU offers 8 CPU slots"},
       {"possible-count"}},
      {"possible-count",
       "QEMU's own -smp disagrees with the spec",
       [](HostView& h, GuestSnapshot&, CheckOptions& o) {
         h.smp = Smp(2, 8, 2, 2, 2);
         o.smp = Smp(2, 16, 2, 4, 2);
       },
       {"QEMU runs with -smp 2,maxcpus=8,sockets=2,cores=2,threads=2, expected maxcpus=16"},
       {"possible-count"}},
      {"present-count",
       "query-cpus-fast misses a vCPU",
       [](HostView& h, GuestSnapshot&, CheckOptions&) { h.cpus.pop_back(); },
       {"query-cpus-fast lists 3 vCPUs, expected 4"},
       {"present-count", "identity"}},
      {"present-cpus-registered",
       "a present CPU without a directory",
       [](HostView&, GuestSnapshot& g, CheckOptions&) {
         g.cpus.erase(2);
         g.online.Erase(2);
         g.offline.Insert(2);
         g.cpuinfo_processors = 3;
         g.agent_vcpus.erase(g.agent_vcpus.begin() + 2);
       },
       {"cpu2 is present but has no cpu2 directory"},
       {"present-cpus-registered", "identity"}},
      {"identity",
       "an APIC id no slot has",
       [](HostView&, GuestSnapshot& g, CheckOptions&) { g.cpus.at(3).apic_id = 9; },
       {"cpu3 apicid=9 matches no QEMU slot"},
       {"identity"}},
      {"identity",
       "APIC id and ACPI node name different slots",
       [](HostView&, GuestSnapshot& g, CheckOptions&) {
         g.cpus.at(3).firmware_node = "\\_SB_.CPUS.C006";
       },
       {"cpu3 apicid=7 is slot socket-id=1,core-id=1,thread-id=1 but firmware_node "
        "\\_SB_.CPUS.C006 is slot socket-id=1,core-id=1,thread-id=0"},
       {"identity"}},
      {"identity",
       "two guest CPUs claim one slot (and one slot has none)",
       [](HostView&, GuestSnapshot& g, CheckOptions&) {
         g.cpus.at(2).apic_id = 7;
         g.cpus.at(2).firmware_node = "\\_SB_.CPUS.C007";
       },
       {"slot socket-id=1,core-id=1,thread-id=1 is claimed by cpu2, cpu3",
        "slot socket-id=0,core-id=1,thread-id=0 (/machine/peripheral/cpu-s0c1t0) has no guest CPU"},
       {"identity"}},
      {"identity",
       "the guest puts a CPU in another package",
       [](HostView&, GuestSnapshot& g, CheckOptions&) {
         g.cpus.at(3).topology->physical_package_id = 0;
       },
       {"cpu3 topology/physical_package_id=0, expected 1 (socket-id of slot "
        "socket-id=1,core-id=1,thread-id=1)"},
       {"identity"}},
      {"identity",
       "the guest loses an SMT sibling",
       [](HostView&, GuestSnapshot& g, CheckOptions&) {
         g.cpus.at(0).topology->thread_siblings = CpuSet{0};
       },
       {"cpu0 topology/thread_siblings_list=0, expected 0-1"},
       {"identity"}},
      {"identity",
       "query-cpus-fast and query-hotpluggable-cpus disagree on props",
       [](HostView& h, GuestSnapshot&, CheckOptions&) { h.cpus.back().props.core_id = 0; },
       {"query-cpus-fast cpu-index 7 has props socket-id=1,core-id=0,thread-id=1"},
       {"identity"}},
      {"state-settled",
       "a CPU stuck mid-transition",
       [](HostView&, GuestSnapshot& g, CheckOptions&) { g.cpus.at(1).hotplug_state = 235; },
       {"cpu1 hotplug/state=235 (sched:active) target=236 (online), expected state == target"},
       {"state-settled", "state-matches-online"}},
      {"state-settled",
       "an offlining that never finished",
       [](HostView&, GuestSnapshot& g, CheckOptions&) { g.cpus.at(1).hotplug_target = 0; },
       {"cpu1 hotplug/state=236 (online) target=0 (offline)"},
       {"state-settled"}},
      {"state-settled",
       "the boot CPU quirk does not excuse a stuck boot CPU",
       [](HostView&, GuestSnapshot& g, CheckOptions&) { g.cpus.at(0).hotplug_state = 91; },
       {"cpu0 hotplug/state=91 (cpu:bringup) target=0 (offline)"},
       {"state-settled", "state-matches-online"}},
      {"state-matches-online",
       "cpuN/online disagrees with the mask",
       [](HostView&, GuestSnapshot& g, CheckOptions&) { g.cpus.at(2).online = false; },
       {"cpu2 online=0 but the online mask 0-3 includes it"},
       {"state-matches-online"}},
      {"state-matches-online",
       "an online CPU at the offline state, settled",
       [](HostView&, GuestSnapshot& g, CheckOptions&) {
         g.cpus.at(1).hotplug_state = 0;
         g.cpus.at(1).hotplug_target = 0;
       },
       {"cpu1 hotplug/state=0 (offline) while online, expected 236 (online)"},
       {"state-matches-online"}},
      {"removed-cpus-gone",
       "QEMU unplugged a slot the guest still has",
       [](HostView& h, GuestSnapshot&, CheckOptions&) {
         SlotWithPath(h, "/machine/peripheral/cpu-s1c1t1").qom_path.reset();
         h.cpus.pop_back();
       },
       {"cpu3 is still in the guest but its slot socket-id=1,core-id=1,thread-id=1 was unplugged"},
       {"removed-cpus-gone", "present-count", "identity"}},
      {"removed-cpus-gone",
       "a directory left behind by a CPU no longer present",
       [](HostView&, GuestSnapshot& g, CheckOptions&) {
         g.present.Erase(3);
         g.online.Erase(3);
         g.offline.Insert(3);
         g.cpus.at(3).online = false;
         g.cpus.at(3).apic_id.reset();
         g.cpus.at(3).topology.reset();
         g.cpuinfo_processors = 3;
         g.agent_vcpus.at(3).online = false;
       },
       {"cpu3 directory exists but cpu3 is not present (present 0-2)"},
       {"removed-cpus-gone", "present-count"}},
      {"states-stable",
       "a callback vanished from the state table",
       [](HostView&, GuestSnapshot& g, CheckOptions& o) {
         o.baseline_states = g.states;
         std::erase_if(g.states, [](const HotplugState& s) { return s.name == "perf:online"; });
       },
       {"hotplug/states lost 162: perf:online"},
       {"states-stable"}},
      {"states-stable",
       "a state appeared",
       [](HostView&, GuestSnapshot& g, CheckOptions& o) {
         o.baseline_states = g.states;
         g.states.push_back({237, "bogus:online"});
       },
       {"hotplug/states gained 237: bogus:online"},
       {"states-stable"}},
      {"agent-agrees",
       "the agent sees a CPU offline",
       [](HostView&, GuestSnapshot& g, CheckOptions&) { g.agent_vcpus.at(2).online = false; },
       {"guest-get-vcpus online 0-1,3, expected the online mask 0-3"},
       {"agent-agrees"}},
      {"agent-agrees",
       "can-offline true for a CPU without an online file",
       [](HostView&, GuestSnapshot& g, CheckOptions&) { g.agent_vcpus.at(0).can_offline = true; },
       {"cpu0 can-offline=true without an online file, expected can-offline=false"},
       {"agent-agrees"}},
      {"cpuinfo-count",
       "/proc/cpuinfo lists fewer processors",
       [](HostView&, GuestSnapshot& g, CheckOptions&) { g.cpuinfo_processors = 3; },
       {"/proc/cpuinfo lists 3 processors, expected 4 (the online mask 0-3)"},
       {"cpuinfo-count"}},
      {"tasks-on-online-cpus",
       "a runnable task left on an offline CPU",
       [](HostView&, GuestSnapshot& g, CheckOptions& o) {
         AddDeepView(g, o);
         g.deep->tasks[100].processor = 5;
       },
       {"pid 100 state R on cpu5, not online (online 0-3)"},
       {"tasks-on-online-cpus"}},
      {"tasks-on-online-cpus",
       "a runnable task on a CPU outside its affinity",
       [](HostView&, GuestSnapshot& g, CheckOptions& o) {
         AddDeepView(g, o);
         g.deep->tasks[100].allowed = CpuSet{1, 5};
       },
       {"pid 100 state R on cpu2 outside Cpus_allowed_list 1,5"},
       {"tasks-on-online-cpus"}},
      {"tasks-affinity-online",
       "a task pinned only to an offline CPU kept its mask",
       [](HostView&, GuestSnapshot& g, CheckOptions& o) {
         AddDeepView(g, o);
         g.deep->tasks[100] = {.pid = 100, .exists = true, .state = 'S', .processor = 5, .allowed = CpuSet{5}};
       },
       {"pid 100 Cpus_allowed_list 5 has no online CPU (online 0-3)"},
       {"tasks-affinity-online"}},
      {"irqs-on-online-cpus",
       "an IRQ still delivered to an offline CPU",
       [](HostView&, GuestSnapshot& g, CheckOptions& o) {
         AddDeepView(g, o);
         g.deep->irqs[0].effective = CpuSet{0, 6};
       },
       {"irq 24 (virtio0-req.0) effective_affinity_list 0,6 has 6, not online"},
       {"irqs-on-online-cpus"}},
      {"irqs-on-online-cpus",
       "an IRQ's effective CPU outside its affinity",
       [](HostView&, GuestSnapshot& g, CheckOptions& o) {
         AddDeepView(g, o);
         g.deep->irqs[0].affinity = CpuSet{2, 3};
       },
       {"irq 24 (virtio0-req.0) effective_affinity_list 0 outside smp_affinity_list 2-3"},
       {"irqs-on-online-cpus"}},
      {"irq-counts-frozen",
       "an offline CPU's IRQ count grew",
       [](HostView&, GuestSnapshot& g, CheckOptions& o) {
         AddDeepView(g, o);
         g.deep->irqs[0].per_cpu_count[6] = 3;
       },
       {"irq 24 (virtio0-req.0) cpu6 count 0 -> 3 while offline"},
       {"irq-counts-frozen"}},
      {"cpuset-effective",
       "the root's effective set did not follow an online",
       [](HostView&, GuestSnapshot& g, CheckOptions& o) {
         AddDeepView(g, o);
         g.deep->cgroups[0].effective = CpuSet::Range(0, 2);
       },
       {"cgroup / cpuset.cpus.effective 0-2, expected the online mask 0-3",
        "cgroup a cpuset.cpus.effective 1-3 (cpuset.cpus 1-5), expected 1-2"},
       {"cpuset-effective"}},
      {"cpuset-effective",
       "a child keeps an offline CPU",
       [](HostView&, GuestSnapshot& g, CheckOptions& o) {
         AddDeepView(g, o);
         g.deep->cgroups[1].effective = CpuSet::Range(1, 5);
       },
       {"cgroup a cpuset.cpus.effective 1-5 (cpuset.cpus 1-5), expected 1-3"},
       {"cpuset-effective"}},
      {"smt-control-honoured",
       "a secondary thread online with SMT off",
       [](HostView&, GuestSnapshot& g, CheckOptions& o) {
         AddDeepView(g, o);
         g.deep->smt_control = "off";
       },
       {"cpu1 online, a secondary thread (QEMU slot thread-id != 0), with smt/control=off"},
       {"smt-control-honoured"}},
      {"smt-control-honoured",
       "smt/active 0 while a core has two threads online",
       [](HostView&, GuestSnapshot& g, CheckOptions& o) {
         AddDeepView(g, o);
         g.deep->smt_active = false;
       },
       {"smt/active reads 0, expected 1 (a core has two online threads)"},
       {"smt-control-honoured"}},
      {"numa-node",
       "a CPU listed in another node than QEMU's",
       [](HostView& h, GuestSnapshot& g, CheckOptions&) {
         NumaBySocket(h, g);
         g.node_cpus[0] = {0, 1};
         g.node_cpus[1] = {2, 3};
       },
       {"cpu2 listed in node1/cpulist 2-3, expected node0, QEMU's node-id for socket-id=0",
        "cpu2 not listed in node0/cpulist 0-1"},
       {"numa-node"}},
      {"numa-node",
       "a CPU linked under another node",
       [](HostView& h, GuestSnapshot& g, CheckOptions&) {
         NumaBySocket(h, g);
         g.cpus.at(3).node_links = {0};
       },
       {"cpu3 linked under node 0, expected node1"},
       {"numa-node"}},
      {"numa-node",
       "a guest with one node where QEMU has two",
       [](HostView& h, GuestSnapshot& g, CheckOptions&) {
         NumaBySocket(h, g);
         g.node_cpus.clear();
       },
       {"cpu3 the guest has a single NUMA node, expected node1"},
       {"numa-node"}},
      {"libvirt-enabled-matches-slots",
       "libvirt still has an unplugged vCPU enabled (its unplug timed out)",
       [](HostView& h, GuestSnapshot&, CheckOptions&) {
         h.libvirt = LibvirtViewOf(h.slots);
         // libvirt vCPU 4 is slot socket1/core0/thread0, free in QEMU.
         h.libvirt->vcpus.at(4).enabled = true;
       },
       {"libvirt vcpu 4 enabled='yes', expected enabled='no' (QEMU's slot socket-id=1,core-id=0,"
        "thread-id=0 is free) [libvirt live XML <vcpus> vs QMP query-hotpluggable-cpus]"},
       {"libvirt-enabled-matches-slots", "libvirt-counts-match"}},
      {"libvirt-enabled-matches-slots",
       "a disabled vCPU that is not hot-pluggable",
       [](HostView& h, GuestSnapshot&, CheckOptions&) {
         h.libvirt = LibvirtViewOf(h.slots);
         h.libvirt->vcpus.at(5).hotpluggable = false;
       },
       {"libvirt vcpu 5 disabled and hotpluggable='no', expected every disabled vCPU hot-pluggable"},
       {"libvirt-enabled-matches-slots"}},
      {"libvirt-counts-match",
       "virDomainGetVcpusFlags(LIVE) counts one vCPU more than QEMU has",
       [](HostView& h, GuestSnapshot&, CheckOptions&) {
         h.libvirt = LibvirtViewOf(h.slots);
         h.libvirt->live_count += 1;
       },
       {"live vCPU count 5, expected 4 (QEMU's plugged slots) [libvirt virDomainGetVcpusFlags(LIVE)"},
       {"libvirt-counts-match"}},
  };
}

class CheckBreakageTest : public ::testing::TestWithParam<Breakage> {};

TEST_P(CheckBreakageTest, IsReportedByName) {
  const Breakage& b = GetParam();
  CapturedGuest g = LoadCapturedGuest("intel-2s2c2t-onlined");
  CheckOptions options{.smp = k2s2c2t};
  ASSERT_TRUE(RunChecks(g.host, g.guest, options).Passed()) << "the starting view is consistent";
  b.apply(g.host, g.guest, options);
  CheckResult r = RunChecks(g.host, g.guest, options);
  EXPECT_FALSE(r.Passed());
  EXPECT_EQ(FailingNames(r), b.failing) << r.Summary();
  const InvariantResult* named = r.Find(b.invariant);
  ASSERT_NE(named, nullptr);
  EXPECT_EQ(named->verdict, Verdict::kFail);
  for (const auto& text : b.detail) EXPECT_THAT(named->detail, HasSubstr(text));
  EXPECT_THAT(r.Summary(), HasSubstr(b.invariant + ": "));
}

INSTANTIATE_TEST_SUITE_P(EveryInvariant, CheckBreakageTest, ::testing::ValuesIn(Breakages()),
                         [](const auto& info) {
                           std::string name =
                               info.param.invariant + "_" + std::to_string(info.index);
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST(CheckInvariantsTest, AnAgreeingLibvirtViewPassesAndNoneIsNoted) {
  CapturedGuest g = LoadCapturedGuest("intel-2s2c2t-onlined");
  CheckResult without = RunChecks(g.host, g.guest, {.smp = k2s2c2t});
  EXPECT_THAT(without.Find("libvirt-counts-match")->note, HasSubstr("no libvirt view"));
  g.host.libvirt = LibvirtViewOf(g.host.slots);
  CheckResult with = RunChecks(g.host, g.guest, {.smp = k2s2c2t});
  EXPECT_TRUE(with.Passed()) << with.Summary();
  EXPECT_EQ(with.Find("libvirt-counts-match")->note, "");
}

TEST(CheckInvariantsTest, EveryInvariantHasABreakage) {
  std::set<std::string> broken;
  for (const auto& b : Breakages()) broken.insert(b.invariant);
  std::set<std::string> all(InvariantNames().begin(), InvariantNames().end());
  EXPECT_EQ(broken, all);
}

TEST(CheckInvariantsTest, DeepInvariantsRunOnlyWhenProbedAndHoldOnAConsistentView) {
  CapturedGuest g = LoadCapturedGuest("intel-2s2c2t-onlined");
  CheckOptions options{.smp = k2s2c2t};
  EXPECT_EQ(RunChecks(g.host, g.guest, options).Find("tasks-on-online-cpus"), nullptr);
  AddDeepView(g.guest, options);
  CheckResult r = RunChecks(g.host, g.guest, options);
  EXPECT_TRUE(r.Passed()) << r.Summary();
  EXPECT_EQ(r.invariants.size(), InvariantNames().size());
  // Named in `only` without a view: it holds, and says it saw nothing.
  CapturedGuest bare = LoadCapturedGuest("intel-2s2c2t-onlined");
  CheckResult only = RunChecks(bare.host, bare.guest, {.only = {"irqs-on-online-cpus"}});
  ASSERT_EQ(only.invariants.size(), 1u);
  EXPECT_THAT(only.invariants[0].note, HasSubstr("not probed"));
  // `only` implies the probe the invariant needs.
  EXPECT_TRUE(EffectiveProbe({.only = {"cpuset-effective"}}).cpusets);
  EXPECT_TRUE(EffectiveProbe({.only = {"tasks-affinity-online"}}).watch_tasks);
  EXPECT_FALSE(EffectiveProbe({.only = {"identity"}}).Any());
}

TEST(CheckInvariantsTest, SleepingTasksAndUnstartedIrqsAreNotedNotFailed) {
  CapturedGuest g = LoadCapturedGuest("intel-2s2c2t-onlined");
  CheckOptions options{.smp = k2s2c2t};
  AddDeepView(g.guest, options);
  // A sleeping task keeps its last CPU in field 39: not a stray.
  g.guest.deep->tasks[100].state = 'S';
  g.guest.deep->tasks[100].processor = 6;
  g.guest.deep->irqs[0].effective = CpuSet{};
  // A managed IRQ bound to offline cpu6 is shut down: its stale effective
  // CPU (0) lies outside its affinity, as on the real 6.1 guest.
  g.guest.deep->irqs.push_back({.irq = 31, .name = "virtio1-req.6", .effective = CpuSet{0},
                                .affinity = CpuSet{6}, .per_cpu_count = {}});
  CheckResult r = RunChecks(g.host, g.guest, options);
  EXPECT_TRUE(r.Passed()) << r.Summary();
  EXPECT_THAT(r.Find("irqs-on-online-cpus")->note, HasSubstr("managed, shut down"));
  EXPECT_THAT(r.Find("tasks-on-online-cpus")->note, HasSubstr("not runnable, not placed: 100 S"));
  EXPECT_THAT(r.Find("irqs-on-online-cpus")->note, HasSubstr("irq 24"));
}

TEST(CheckInvariantsTest, OnlyRunsTheNamedInvariants) {
  CapturedGuest g = LoadCapturedGuest("intel-2s2c2t-onlined");
  g.guest.cpuinfo_processors = 1;
  CheckResult r = RunChecks(g.host, g.guest, {.only = {"identity", "cpuinfo-count"}});
  ASSERT_EQ(r.invariants.size(), 2u);
  EXPECT_EQ(r.invariants[0].name, "identity") << "report order, not request order";
  EXPECT_FALSE(r.Passed());
  EXPECT_THROW(RunChecks(g.host, g.guest, {.only = {"no-such-invariant"}}), Error);
}

TEST(CheckInvariantsTest, BootCpuQuirkNeedsEverythingElseRight) {
  // cpu0 at online with target 0 is the 6.1 boot CPU; the same on cpu1 is not.
  CapturedGuest g = LoadCapturedGuest("intel-2s2c2t-onlined");
  g.guest.cpus.at(1).hotplug_target = 0;
  CheckResult r = RunChecks(g.host, g.guest, {.only = {"state-settled"}});
  EXPECT_FALSE(r.Passed());
  EXPECT_THAT(r.Summary(), HasSubstr("cpu1 hotplug/state=236 (online) target=0 (offline)"));
  EXPECT_THAT(r.Summary(), ::testing::Not(HasSubstr("cpu0")));
}

TEST(CheckInvariantsTest, AmdGuestsAreComparedWithoutCoreIds) {
  // An AMD model without topoext: the guest's core_id is the APIC id's low
  // bits and it sees no SMT; the checker still catches a wrong package.
  CapturedGuest g = LoadCapturedGuest("amd-2s2c2t-onlined");
  EXPECT_EQ(g.guest.cpus.at(1).topology->core_id, 1) << "QEMU's core-id 0, thread-id 1";
  EXPECT_TRUE(RunChecks(g.host, g.guest, {.smp = k2s2c2t}).Passed());
  g.guest.cpus.at(3).topology->physical_package_id = 0;
  CheckResult r = RunChecks(g.host, g.guest, {.smp = k2s2c2t});
  EXPECT_EQ(FailingNames(r), std::set<std::string>{"identity"});
  g.guest.cpus.at(3).topology->physical_package_id = 1;
  g.guest.cpus.at(3).topology->thread_siblings = CpuSet{2, 3};
  r = RunChecks(g.host, g.guest, {.smp = k2s2c2t});
  EXPECT_THAT(r.Summary(),
              HasSubstr("cpu3 topology/thread_siblings_list=2-3, expected a subset of 3"));
}

TEST(CheckInvariantsTest, ResultAsJson) {
  CapturedGuest g = LoadCapturedGuest("intel-2s2c2t-onlined");
  g.guest.cpus.at(1).hotplug_state = 235;
  nlohmann::json j =
      RunChecks(g.host, g.guest, {.only = {"state-settled", "cpuinfo-count"}}).ToJson();
  EXPECT_EQ(j["passed"], false);
  ASSERT_EQ(j["invariants"].size(), 2u);
  EXPECT_EQ(j["invariants"][0]["name"], "state-settled");
  EXPECT_EQ(j["invariants"][0]["verdict"], "fail");
  EXPECT_EQ(j["invariants"][0]["findings"][0]["subject"], "cpu1");
  EXPECT_EQ(j["invariants"][0]["findings"][0]["seen"],
            "hotplug/state=235 (sched:active) target=236 (online)");
  EXPECT_EQ(j["invariants"][1]["verdict"], "pass");
}

}  // namespace
}  // namespace cpuhp::testing
