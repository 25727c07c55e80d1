// The fixture every VM test builds on: boots guests from the kit, tracks
// them, and tears them all down; keeps a failing test's artifacts.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "vm/boot_template.h"
#include "vm/guest_kit.h"
#include "vm/machine.h"

namespace cpuhp::testing {

// The test's artifacts dir: $CPUHP_TEST_ARTIFACTS/<Suite>.<Test>.
std::filesystem::path TestArtifactsDir();

// The accel VM tests run under: CPUHP_TEST_ACCEL (tcg|kvm|auto), else TCG,
// so that results do not depend on the host unless asked to.
Accel TestAccel();
// "" when TestAccel() can run here, else why not: fixtures skip the test
// then (the `kvm` ctest label runs the VM tests with CPUHP_TEST_ACCEL=kvm).
std::string TestAccelUnavailable();

// How VmTest::Boot boots: CPUHP_BOOT (snapshot|cold) when set, else cold, so
// that a test that reads boot lines sees them unless the run asks otherwise.
BootMode TestBootMode();

// A spec for the guest kit: q35, TestAccel().
MachineSpec KitSpec(const std::string& name, SmpTopology smp);

class VmTest : public ::testing::Test {
 protected:
  // Launches a machine (TestBootMode()) and keeps it until TearDown.
  Machine& Boot(MachineSpec spec);
  void SetUp() override;
  void TearDown() override;

  std::vector<std::unique_ptr<Machine>> machines_;
};

}  // namespace cpuhp::testing
