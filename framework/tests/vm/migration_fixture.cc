#include "migration_fixture.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <thread>

namespace cpuhp::testing {

std::vector<std::string> PluggedDeviceIds(const HostView& view) {
  std::vector<std::string> ids;
  for (const auto& slot : view.slots) {
    if (auto id = PluggedDeviceId(slot)) ids.push_back(*id);
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<pid_t> QemuProcessesMentioning(const std::string& text) {
  std::vector<pid_t> pids;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::ifstream in(entry.path() / "cmdline", std::ios::binary);
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.rfind("qemu-system", 0) != 0 && cmdline.find("/qemu-system") == std::string::npos) {
      continue;
    }
    // A zombie has an empty cmdline; what is listed here is alive.
    if (cmdline.find(text) != std::string::npos) pids.push_back(std::stoi(name));
  }
  return pids;
}

Machine& MigrationTest::BootGuest(MachineSpec spec) {
  Machine& vm = Boot(std::move(spec));
  baseline_states_ = ReadGuestSnapshot(vm.Agent()).states;
  return vm;
}

std::filesystem::path MigrationTest::DestinationDir(const std::string& name) const {
  return TestArtifactsDir() / name;
}

Machine& MigrationTest::MigrateTo(Machine& source, const std::string& name,
                                  const MigrationOptions& options, MigrationResult* result) {
  auto destination = Migrate(source, DestinationDir(name), options, result);
  if (!destination) throw Error("migration to " + name + " returned no destination");
  machines_.push_back(std::move(destination));
  return *machines_.back();
}

HotpluggableCpu MigrationTest::Plug(Machine& vm, const std::string& id) {
  auto free = CpuHotplug(vm.Qmp()).FreeSlots();
  if (free.empty()) throw Error("no free CPU slot left for " + id);
  CpuHotplug(vm.Qmp()).Plug(free.front(), id, Deadline::After(kHotplugSettleTimeout));
  return free.front();
}

HotpluggableCpu MigrationTest::PlugAt(Machine& vm, const CpuProps& props, const std::string& id) {
  for (const auto& slot : CpuHotplug(vm.Qmp()).FreeSlots()) {
    if (slot.props.socket_id == props.socket_id && slot.props.core_id == props.core_id &&
        slot.props.thread_id == props.thread_id) {
      CpuHotplug(vm.Qmp()).Plug(slot, id, Deadline::After(kHotplugSettleTimeout));
      return slot;
    }
  }
  throw Error("no free slot at " + props.ToDeviceArgs());
}

void MigrationTest::OnlineAll(Machine& vm, size_t expected_vcpus) {
  Deadline deadline = Deadline::After(kHotplugSettleTimeout);
  std::vector<GuestVcpu> vcpus;
  // The guest registers a plugged CPU by the time it answers _OST; this
  // bounded poll only covers a late agent view.
  for (;;) {
    vcpus = vm.Agent().GetVcpus();
    if (vcpus.size() >= expected_vcpus || deadline.Expired()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_EQ(vcpus.size(), expected_vcpus) << "guest-get-vcpus never listed every plugged CPU";
  std::vector<GuestVcpu> offline;
  for (auto v : vcpus) {
    if (v.online) continue;
    v.online = true;
    offline.push_back(v);
  }
  if (!offline.empty()) vm.Agent().SetVcpus(offline);
}

void MigrationTest::ExpectConsistent(Machine& vm) {
  CheckResult r = CheckUntilConsistent(vm, {.baseline_states = baseline_states_},
                                       Deadline::After(kHotplugSettleTimeout));
  EXPECT_TRUE(r.Passed()) << vm.name() << ": " << r.Summary();
}

void MigrationTest::PlugOnlineUnplug(Machine& vm, const std::string& id) {
  size_t vcpus = vm.Agent().GetVcpus().size();
  Plug(vm, id);
  OnlineAll(vm, vcpus + 1);
  ExpectConsistent(vm);
  CpuHotplug(vm.Qmp()).Unplug(id, Deadline::After(kHotplugSettleTimeout));
  ExpectConsistent(vm);
  EXPECT_EQ(vm.Agent().GetVcpus().size(), vcpus);
}

}  // namespace cpuhp::testing
