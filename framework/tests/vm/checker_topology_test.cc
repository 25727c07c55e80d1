// The checker on real guests: after every step of plugging, onlining,
// offlining (guest side) and unplugging vCPUs, QEMU's view and the guest
// kernel's must agree, for several -smp topologies.
#include <gtest/gtest.h>

#include <algorithm>

#include "check/checker.h"
#include "check/cpu_mapping.h"
#include "vm/cpu_hotplug.h"
#include "vm_fixture.h"

namespace cpuhp::testing {
namespace {

struct Topology {
  std::string name;
  std::string cpu_model;
  SmpTopology smp;
  // The slots to plug, in this order, skipping slots so that the guest's
  // numbering (by arrival) differs from QEMU's slot indexes; in APIC id
  // order (see the note on a TCG hang below).
  std::vector<CpuProps> plug;
};

void PrintTo(const Topology& t, std::ostream* os) { *os << t.name; }


class CheckerTopologyTest : public VmTest, public ::testing::WithParamInterface<Topology> {
 protected:
  // Checks until consistent: the guest may still be finishing a transition.
  void ExpectConsistent(Machine& vm, const std::string& step) {
    CheckResult r = CheckUntilConsistent(vm, options_, Deadline::After(kHotplugSettleTimeout));
    EXPECT_TRUE(r.Passed()) << "after " << step << ":\n" << r.Summary();
    EXPECT_EQ(r.invariants.size(), PlainInvariantNames().size());
  }

  // The guest CPU number QEMU's slot `props` has in the guest, if any.
  std::optional<int> GuestCpuOf(Machine& vm, const CpuProps& props) {
    HostView host = ReadHostView(vm.Qmp());
    CpuMapping m = MapCpus(host, ReadGuestSnapshot(vm.Agent()));
    for (size_t i = 0; i < m.slots.size(); ++i) {
      if (m.slots[i].slot.props.ToDeviceArgs() != props.ToDeviceArgs()) continue;
      auto guests = m.GuestCpusOf(i);
      if (guests.size() == 1) return guests.front();
    }
    return std::nullopt;
  }

  CheckOptions options_;
};

TEST_P(CheckerTopologyTest, GreenAfterEveryStep) {
  const Topology& t = GetParam();
  MachineSpec spec = KitSpec("checker-" + t.name, t.smp);
  spec.cpu_model = t.cpu_model;
  Machine& vm = Boot(spec);
  GuestSnapshot boot = ReadGuestSnapshot(vm.Agent());
  options_.baseline_states = boot.states;
  ExpectConsistent(vm, "boot");

  CpuHotplug hotplug(vm.Qmp());
  std::vector<HotpluggableCpu> free = hotplug.FreeSlots();
  std::vector<std::string> ids;
  std::vector<int> guest_cpus;
  for (const CpuProps& props : t.plug) {
    auto slot = std::find_if(free.begin(), free.end(), [&](const HotpluggableCpu& s) {
      return s.props.ToDeviceArgs() == props.ToDeviceArgs();
    });
    ASSERT_NE(slot, free.end()) << "no free slot " << props.ToDeviceArgs();
    std::string id = "cpu-" + std::to_string(ids.size() + 1);
    hotplug.Plug(*slot, id, Deadline::After(kHotplugSettleTimeout));
    ids.push_back(id);
    ExpectConsistent(vm, "plugging " + props.ToDeviceArgs());
    auto cpu = GuestCpuOf(vm, props);
    ASSERT_TRUE(cpu) << props.ToDeviceArgs() << " has no guest CPU";
    guest_cpus.push_back(*cpu);
    // No udev in the guest kit: a hot-added CPU stays offline until onlined.
    EXPECT_FALSE(ReadGuestSnapshot(vm.Agent()).online.Contains(*cpu));
  }

  for (int cpu : guest_cpus) {
    vm.Agent().SetOnline(cpu, true);
    ExpectConsistent(vm, "onlining cpu" + std::to_string(cpu));
    EXPECT_TRUE(ReadGuestSnapshot(vm.Agent()).online.Contains(cpu));
  }
  for (auto cpu = guest_cpus.rbegin(); cpu != guest_cpus.rend(); ++cpu) {
    vm.Agent().SetOnline(*cpu, false);
    ExpectConsistent(vm, "offlining cpu" + std::to_string(*cpu));
    EXPECT_FALSE(ReadGuestSnapshot(vm.Agent()).online.Contains(*cpu));
  }
  for (size_t i = ids.size(); i-- > 0;) {
    hotplug.Unplug(ids[i], Deadline::After(kHotplugSettleTimeout));
    ExpectConsistent(vm, "unplugging " + ids[i]);
    EXPECT_FALSE(ReadGuestSnapshot(vm.Agent()).present.Contains(guest_cpus[i]));
  }
  EXPECT_EQ(ReadGuestSnapshot(vm.Agent()).present, boot.present);

  // A CPU present since boot goes down and up too (guest side), once the
  // hot-added ones are gone. Under TCG with <= 8 possible CPUs (the guest's
  // APIC in flat logical mode) some orders hang this 6.1 guest in
  // stop_machine (soft lockups in multi_cpu_stop): e.g. offlining boot cpu1
  // while a lone hot-added socket-1 CPU is online, onlining a hot-added CPU
  // of lower APIC id after one of higher, or (GenuineIntel) onlining a
  // socket-1 CPU after cpu1 went down and up. That is a guest/TCG matter,
  // not the checker's: this test keeps to orders that work (plug and online
  // in APIC id order, offline and unplug in reverse, boot CPU last).
  if (boot.online.Contains(1)) {
    vm.Agent().SetOnline(1, false);
    ExpectConsistent(vm, "offlining boot cpu1");
    vm.Agent().SetOnline(1, true);
    ExpectConsistent(vm, "onlining boot cpu1");
  }
}

INSTANTIATE_TEST_SUITE_P(
    Topologies, CheckerTopologyTest,
    ::testing::Values(Topology{"4_sockets",
                               "qemu64",
                               {.cpus = 1, .maxcpus = 4, .sockets = 4, .cores = 1, .threads = 1},
                               {CpuProps::At(1, 0, 0), CpuProps::At(3, 0, 0)}},
                      // x86 plugs per thread; TCG's `max` is an AMD model (the guest sees
                      // no SMT, numbers cores from the APIC id). The GenuineIntel variant,
                      // whose core ids and siblings the checker compares exactly, is covered
                      // by captures of a real guest in the unit tests: live, it now and then
                      // hangs this TCG guest while onlining a socket-1 CPU (soft lockups in
                      // stop_machine), which would make this test flaky.
                      Topology{"2s2c2t_amd",
                               "max",
                               {.cpus = 2, .maxcpus = 8, .sockets = 2, .cores = 2, .threads = 2},
                               {CpuProps::At(0, 1, 0), CpuProps::At(1, 1, 1)}}),
    [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace cpuhp::testing
