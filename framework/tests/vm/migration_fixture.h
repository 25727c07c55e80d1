// What the migration VM tests share: a fixture that tracks destinations as
// well as booted machines, plug/online helpers, the checker with the boot
// baseline, and a look for QEMUs left behind.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "check/checker.h"
#include "guest/cpu_snapshot.h"
#include "vm/cpu_hotplug.h"
#include "vm/migration.h"
#include "vm_fixture.h"

namespace cpuhp::testing {

// PIDs of running qemu-system processes whose command line mentions `text`
// (an artifacts path): what `pgrep -f` would list, without killing anything.
std::vector<pid_t> QemuProcessesMentioning(const std::string& text);

// The device ids of the hot-plugged CPUs in `view`, sorted.
std::vector<std::string> PluggedDeviceIds(const HostView& view);

class MigrationTest : public VmTest {
 protected:
  // Boots `spec` and records the guest's hotplug/states as the baseline.
  Machine& BootGuest(MachineSpec spec);
  // Migrate() with the destination tracked for teardown; fails the test (via
  // exception) when Migrate throws. Returns the destination.
  Machine& MigrateTo(Machine& source, const std::string& name, const MigrationOptions& options,
                     MigrationResult* result);
  std::filesystem::path DestinationDir(const std::string& name) const;

  // Plugs the lowest free slot (socket, die, core, thread order) as `id`,
  // or the slot at `props`; returns the slot.
  HotpluggableCpu Plug(Machine& vm, const std::string& id);
  HotpluggableCpu PlugAt(Machine& vm, const CpuProps& props, const std::string& id);
  // Onlines every guest CPU that is offline (guest-get-vcpus), once the
  // guest lists `expected_vcpus` of them.
  void OnlineAll(Machine& vm, size_t expected_vcpus);
  // The checker, all invariants, against the boot baseline of hotplug/states.
  void ExpectConsistent(Machine& vm);
  // A plug and an unplug (with the CPU onlined in between), each followed by a check.
  void PlugOnlineUnplug(Machine& vm, const std::string& id);

  std::vector<HotplugState> baseline_states_;
};

}  // namespace cpuhp::testing
