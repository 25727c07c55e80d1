#include "scenario/boot_plugs.h"

#include <algorithm>
#include <random>
#include <thread>

#include "scenario/topology.h"
#include "util/error.h"

namespace cpuhp {

BootPlugPlan PlanBootPlugs(const BootPlugs& plugs, uint64_t seed) {
  BootPlugPlan plan;
  plan.seed = seed;
  plan.paused = plugs.paused ? (plugs.count + 1) / 2 : 0;
  // mt19937_64's sequence is fixed by the standard (distributions are not),
  // so a seed replays the same times with any standard library.
  std::mt19937_64 rng(seed);
  for (int i = plan.paused; i < plugs.count; ++i) {
    plan.at.push_back(std::chrono::milliseconds(rng() % kBootPlugWindow.count()));
  }
  std::sort(plan.at.begin(), plan.at.end());
  return plan;
}

uint64_t FreshSeed() {
  std::random_device device;
  return (uint64_t{device()} << 32) ^ device();
}

nlohmann::json RunBootPlugs(Vm& vm, const BootPlugPlan& plan, const Deadline& deadline,
                            std::vector<std::string>* ids) {
  const Clock::time_point start = Clock::now();
  nlohmann::json plugs = nlohmann::json::array();
  HotplugDriver& hp = vm.Hotplug();
  auto plug_next = [&](bool paused) {
    auto free = hp.FreeSlots();
    if (free.empty()) throw Error("boot_plugs: QEMU has no free CPU slot left");
    const std::string id = SlotDeviceId(free.front().props);
    hp.DeviceAdd(free.front().type, id, free.front().props, deadline);
    ids->push_back(id);
    plugs.push_back({{"id", id},
                     {"at_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                   Clock::now() - start).count()},
                     {"paused", paused}});
  };
  if (plan.paused > 0) {
    vm.Qmp().Execute("stop", nullptr, deadline);
    for (int i = 0; i < plan.paused; ++i) plug_next(true);
    vm.Qmp().Execute("cont", nullptr, deadline);
  }
  for (auto at : plan.at) {
    // Waiting for a chosen moment, not for a condition: nothing to poll.
    const Clock::time_point when = start + at;
    if (deadline.Expired()) throw TimeoutError("boot_plugs: the boot deadline passed between plugs");
    std::this_thread::sleep_until(when);
    plug_next(false);
  }
  return {{"seed", plan.seed}, {"plugs", plugs}};
}

}  // namespace cpuhp
