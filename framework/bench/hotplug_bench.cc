// hotplug_bench: the walking skeleton's latencies, measured on real guests.
//
// For each of --runs N boots (default 10) of the guest kit with
// -smp 1,maxcpus=4,sockets=4: QEMU start to guest agent answering; device_add
// to the guest's `present` mask showing the CPU; device_del to the guest's
// eject completing (_OST success) and to QEMU's DEVICE_DELETED for the CPU's
// lapic child. Prints each run and the medians; results are written down in
// docs/benchmarks.md. Not a test: nothing here asserts a speed.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "guest/cpu_snapshot.h"
#include "bench_common.h"
#include "util/log.h"
#include "util/temp_dir.h"
#include "vm/cpu_hotplug.h"
#include "vm/guest_kit.h"
#include "vm/machine.h"

namespace cpuhp {
namespace {

struct Sample {
  double boot_ms, plug_to_present_ms, plug_to_ost_ms, unplug_to_eject_ms, unplug_to_present_ms;
};

Sample RunOnce(const GuestKit& kit, const std::filesystem::path& dir, int i) {
  MachineSpec spec;
  spec.name = "bench" + std::to_string(i);
  spec.smp = {.cpus = 1, .maxcpus = 4, .sockets = 4, .dies = 0, .cores = 1, .threads = 1};
  kit.ApplyTo(spec);
  Machine vm(spec, dir / spec.name);
  vm.Launch();
  Sample s{};
  s.boot_ms = Ms(vm.boot_time());
  CpuHotplug hp(vm.Qmp());
  AgentClient& agent = vm.Agent();
  const std::string present = std::string(kSysCpu) + "/present";
  auto slot = hp.FreeSlots().front();

  auto t0 = Clock::now();
  hp.Plug(slot, "cpu-bench", Deadline::After(kHotplugSettleTimeout));
  s.plug_to_ost_ms = Ms(Clock::now() - t0);
  Deadline settle = Deadline::After(kHotplugSettleTimeout);
  // The guest does not notify the host of mask changes: a bounded poll.
  while (CpuSet::Parse(agent.ReadFile(present)).Size() != 2 && !settle.Expired()) {
  }
  s.plug_to_present_ms = Ms(Clock::now() - t0);

  agent.SetOnline(1, true);
  t0 = Clock::now();
  hp.Unplug("cpu-bench", Deadline::After(kHotplugSettleTimeout));
  s.unplug_to_eject_ms = Ms(Clock::now() - t0);
  settle = Deadline::After(kHotplugSettleTimeout);
  while (CpuSet::Parse(agent.ReadFile(present)).Size() != 1 && !settle.Expired()) {
  }
  s.unplug_to_present_ms = Ms(Clock::now() - t0);
  vm.Shutdown();
  std::filesystem::remove_all(dir / spec.name);
  return s;
}

}  // namespace
}  // namespace cpuhp

int main(int argc, char** argv) {
  using namespace cpuhp;
  const int runs = RunsFlag(argc, argv);
  SetLogLevel(LogLevel::kWarning);
  try {
    GuestKit kit = GuestKit::Load(GuestKit::DefaultDir());
    TempDir dir(std::filesystem::temp_directory_path(), "cpuhp-bench-");
    std::vector<Sample> samples;
    std::printf("%4s %10s %14s %16s %16s %18s\n", "run", "boot_ms", "add_to_ost_ms",
                "add_to_present", "del_to_eject_ms", "del_to_present_ms");
    for (int i = 0; i < runs; ++i) {
      Sample s = RunOnce(kit, dir.path(), i);
      samples.push_back(s);
      std::printf("%4d %10.0f %14.0f %16.0f %16.0f %18.0f\n", i + 1, s.boot_ms, s.plug_to_ost_ms,
                  s.plug_to_present_ms, s.unplug_to_eject_ms, s.unplug_to_present_ms);
      std::fflush(stdout);
    }
    auto col = [&](double Sample::*m) {
      std::vector<double> v;
      for (const auto& s : samples) v.push_back(s.*m);
      return Median(v);
    };
    std::printf("%4s %10.0f %14.0f %16.0f %16.0f %18.0f\n", "med", col(&Sample::boot_ms),
                col(&Sample::plug_to_ost_ms), col(&Sample::plug_to_present_ms),
                col(&Sample::unplug_to_eject_ms), col(&Sample::unplug_to_present_ms));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hotplug_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
