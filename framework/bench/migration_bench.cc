// migration_bench: live migration time and downtime of a guest with a
// hot-plugged, onlined vCPU.
//
// Boots a 512 MiB guest (-smp 1,maxcpus=4), plugs and onlines one CPU, then
// migrates it over a UNIX socket N times (each hop to a fresh QEMU derived
// from the last one's state) and prints, per run and as medians:
//   total   query-migrate total-time (migrate to completed, source side)
//   down    query-migrate downtime (guest paused)
//   wall    `migrate` to the destination running with its agent answering
//
//   build/framework/migration_bench [--runs N] [--artifacts DIR]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "util/log.h"
#include "bench_common.h"
#include "vm/cpu_hotplug.h"
#include "vm/guest_kit.h"
#include "vm/migration.h"

namespace cpuhp {
namespace {

int Main(int argc, char** argv) {
  int runs = 10;
  std::filesystem::path artifacts = "migration-bench";
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--runs") && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--artifacts") && i + 1 < argc) {
      artifacts = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--runs N] [--artifacts DIR]\n", argv[0]);
      return 2;
    }
  }
  if (runs < 1) runs = 1;
  SetLogLevel(LogLevel::kWarning);

  MachineSpec spec;
  spec.name = "bench0";
  spec.smp = {.cpus = 1, .maxcpus = 4};
  spec.memory_mib = 512;
  GuestKit::Load(GuestKit::DefaultDir()).ApplyTo(spec);
  std::filesystem::remove_all(artifacts);

  auto vm = std::make_unique<Machine>(spec, artifacts / spec.name);
  vm->Launch();
  CpuHotplug hotplug(vm->Qmp());
  hotplug.Plug(hotplug.FreeSlots().at(0), "cpu1", Deadline::After(kHotplugSettleTimeout));
  vm->Agent().SetOnline(1, true);

  std::printf("migration_bench: 512 MiB guest, -smp 1,maxcpus=4 + cpu1 plugged and online, "
              "accel %s, unix socket, %d run(s)\n", AccelName(vm->accel()), runs);
  std::printf("%4s %10s %10s %10s %12s\n", "run", "total_ms", "down_ms", "wall_ms", "sent_MiB");
  std::vector<double> totals, downs, walls;
  for (int run = 1; run <= runs; ++run) {
    MigrationResult r;
    MigrationOptions options;
    options.verify = false;  // measured alone; the tests check the two sides
    vm = Migrate(*vm, artifacts / ("bench" + std::to_string(run)), options, &r);
    double wall = std::chrono::duration<double, std::milli>(r.wall_time).count();
    double sent = r.query_migrate.value("ram", nlohmann::json::object())
                      .value("transferred", int64_t{0}) / double(1 << 20);
    std::printf("%4d %10lld %10lld %10.0f %12.1f\n", run,
                static_cast<long long>(r.total_time_ms.value_or(-1)),
                static_cast<long long>(r.downtime_ms.value_or(-1)), wall, sent);
    std::fflush(stdout);
    if (r.total_time_ms) totals.push_back(double(*r.total_time_ms));
    if (r.downtime_ms) downs.push_back(double(*r.downtime_ms));
    walls.push_back(wall);
  }
  std::printf("median %8.0f %10.0f %10.0f\n", Median(totals), Median(downs), Median(walls));
  vm->Shutdown();
  std::filesystem::remove_all(artifacts);
  return 0;
}

}  // namespace
}  // namespace cpuhp

int main(int argc, char** argv) {
  try {
    return cpuhp::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "migration_bench: %s\n", e.what());
    return 1;
  }
}
