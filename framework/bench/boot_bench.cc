// boot_bench: cold boot vs snapshot boot (vm/boot_template.h), QEMU start to
// the guest agent answering, on real guests.
//
// One cold boot makes the template (its save time is printed), then --runs N
// (default 10) pairs, alternating cold and restored so that a change in the
// host's load hits both alike. Prints each pair and the medians; results are
// written down in docs/benchmarks.md. Not a test: nothing here asserts a speed.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "bench_common.h"
#include "util/log.h"
#include "util/temp_dir.h"
#include "vm/boot_template.h"
#include "vm/guest_kit.h"
#include "vm/machine.h"

namespace cpuhp {
namespace {

struct Boot {
  double agent_ms;  // QEMU start to the agent answering
  double total_ms;  // BootMachine() as a whole: template check, clock set included
};

Boot BootOnce(const MachineSpec& spec, const std::filesystem::path& dir, BootMode mode,
              BootRecord* record) {
  const Clock::time_point t0 = Clock::now();
  std::unique_ptr<Machine> vm = BootMachine(spec, dir, mode, Deadline::After(kBootTimeout), record);
  const Boot b{Ms(vm->boot_time()), Ms(Clock::now() - t0)};
  if (record->save_wanted) SaveBootTemplate(*vm, *record);
  vm->Shutdown();
  std::filesystem::remove_all(dir);
  return b;
}

}  // namespace
}  // namespace cpuhp

int main(int argc, char** argv) {
  using namespace cpuhp;
  const int runs = RunsFlag(argc, argv);
  SetLogLevel(LogLevel::kWarning);
  try {
    TempDir dir(std::filesystem::temp_directory_path(), "cpuhp-bench-");
    // A private cache: the measured templates are this program's own.
    setenv("CPUHP_CACHE_DIR", (dir.path() / "cache").c_str(), 1);
    MachineSpec spec;
    spec.name = "bench";
    spec.smp = {.cpus = 1, .maxcpus = 4};
    GuestKit::Load(GuestKit::DefaultDir()).ApplyTo(spec);
    BootRecord maker;
    BootOnce(spec, dir.path() / "maker", BootMode::kSnapshot, &maker);
    std::printf("template: saved=%d in %.0f ms, %s (%ju bytes)\n", maker.saved, maker.save_s * 1000,
                maker.template_path.c_str(),
                static_cast<uintmax_t>(std::filesystem::file_size(maker.template_path)));
    std::vector<double> cold, snapshot, snapshot_total;
    std::printf("%4s %10s %14s %18s\n", "run", "cold_ms", "snapshot_ms", "snapshot_total_ms");
    for (int i = 0; i < runs; ++i) {
      BootRecord c, s;
      cold.push_back(BootOnce(spec, dir.path() / "cold", BootMode::kCold, &c).agent_ms);
      Boot b = BootOnce(spec, dir.path() / "snap", BootMode::kSnapshot, &s);
      if (!s.restored) throw Error("the snapshot boot went cold: " + s.cold_reason);
      snapshot.push_back(b.agent_ms);
      snapshot_total.push_back(b.total_ms);
      std::printf("%4d %10.0f %14.0f %18.0f\n", i + 1, cold.back(), snapshot.back(),
                  snapshot_total.back());
      std::fflush(stdout);
    }
    std::printf("%4s %10.0f %14.0f %18.0f  (cold/snapshot %.1fx)\n", "med", Median(cold),
                Median(snapshot), Median(snapshot_total),
                Median(cold) / std::max(Median(snapshot_total), 1.0));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "boot_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
