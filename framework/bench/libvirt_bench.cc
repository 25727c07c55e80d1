// libvirt_bench: vCPU plug and unplug latency through libvirt
// (virDomainSetVcpu, a private libvirtd) against direct QEMU (device_add /
// device_del over QMP), on the same guest kit: one VM per backend with
// -smp 1,maxcpus=11 (more than 8 possible CPUs: no flat-APIC slow path),
// each of the 10 free slots plugged one at a time (call to the guest's _OST),
// then unplugged one at a time (call to eject done and slot free). Prints each
// sample, the medians and, for libvirt, what it answered to each unplug and
// to a re-plug of an unplugged vCPU. Results go to docs/benchmarks.md; not a
// test: nothing here asserts a speed.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "util/log.h"
#include "util/temp_dir.h"
#include "vm/guest_kit.h"
#include "vm/vm.h"

namespace cpuhp {
namespace {

constexpr int kSlots = 10;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double Ms(Clock::duration d) { return ToSeconds(d) * 1000; }

void Bench(const std::string& backend, const std::filesystem::path& dir) {
  MachineSpec spec;
  spec.name = "bench-" + backend;
  spec.backend = backend;
  spec.smp = {.cpus = 1, .maxcpus = kSlots + 1};
  GuestKit::Load(GuestKit::DefaultDir()).ApplyTo(spec);
  std::unique_ptr<Vm> vm = MakeVm(spec, dir / spec.name);
  vm->Launch();
  std::vector<double> plug, unplug;
  std::vector<std::string> ids;
  std::string disagreements;
  for (const auto& slot : vm->Hotplug().FreeSlots()) {
    std::string id = "cpu-b" + std::to_string(ids.size() + 1);
    auto t0 = Clock::now();
    vm->Hotplug().Plug(slot, id, Deadline::After(kHotplugSettleTimeout));
    plug.push_back(Ms(Clock::now() - t0));
    ids.push_back(id);
  }
  for (auto it = ids.rbegin(); it != ids.rend(); ++it) {
    auto t0 = Clock::now();
    auto r = vm->Hotplug().Unplug(*it, Deadline::After(kHotplugSettleTimeout));
    unplug.push_back(Ms(Clock::now() - t0));
    if (!r.backend_disagreement.empty()) disagreements = r.backend_disagreement;
  }
  for (size_t i = 0; i < plug.size(); ++i) {
    std::printf("%-8s plug %2zu: %8.1f ms   unplug %2zu: %8.1f ms\n", backend.c_str(), i + 1, plug[i],
                i + 1, unplug[i]);
  }
  std::printf("%-8s boot %.0f ms; median plug (call to _OST) %.1f ms, median unplug (call to eject "
              "done, slot free) %.1f ms over %zu\n",
              backend.c_str(), Ms(vm->boot_time()), Median(plug), Median(unplug), plug.size());
  if (!disagreements.empty()) std::printf("%-8s unplug: %s\n", backend.c_str(), disagreements.c_str());
  // After an unplug libvirt says timed out: can the vCPU be plugged again?
  try {
    auto free = vm->Hotplug().FreeSlots();
    vm->Hotplug().Plug(free.front(), "cpu-again", Deadline::After(kHotplugSettleTimeout));
    std::printf("%-8s re-plug of an unplugged vCPU: ok\n", backend.c_str());
  } catch (const Error& e) {
    std::printf("%-8s re-plug of an unplugged vCPU: %s\n", backend.c_str(), e.what());
  }
  vm->Shutdown();
}

}  // namespace
}  // namespace cpuhp

int main(int argc, char** argv) {
  using namespace cpuhp;
  SetLogLevel(LogLevel::kWarning);
  std::vector<std::string> backends = {"qemu", "libvirt"};
  if (argc > 1) backends.assign(argv + 1, argv + argc);
  TempDir dir(std::filesystem::temp_directory_path(), "cpuhp-libvirt-bench-");
  int status = 0;
  for (const auto& b : backends) {
    try {
      Bench(b, dir.path());
    } catch (const Error& e) {
      std::fprintf(stderr, "%s: %s\n", b.c_str(), e.what());
      status = 1;
    }
  }
  return status;
}
