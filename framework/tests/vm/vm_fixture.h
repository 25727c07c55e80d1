// The fixture every VM test builds on: boots guests from the kit, tracks
// them, and tears them all down; keeps a failing test's artifacts.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "vm/guest_kit.h"
#include "vm/machine.h"

namespace cpuhp::testing {

// The test's artifacts dir: $CPUHP_TEST_ARTIFACTS/<Suite>.<Test>.
std::filesystem::path TestArtifactsDir();

// A spec for the guest kit: q35, TCG unless CPUHP_TEST_ACCEL says otherwise.
MachineSpec KitSpec(const std::string& name, SmpTopology smp);

class VmTest : public ::testing::Test {
 protected:
  // Launches a machine and keeps it until TearDown.
  Machine& Boot(MachineSpec spec);
  void TearDown() override;

  std::vector<std::unique_ptr<Machine>> machines_;
};

}  // namespace cpuhp::testing
