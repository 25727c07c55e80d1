// A scenario's `machine:` map, from YAML to the MachineConfig that boots:
// the topology checked, paths resolved against the scenario file, the CPU
// model defaulted and the guest kit applied.
#pragma once

#include <filesystem>
#include <optional>

#include "scenario/scenario.h"
#include "scenario/yaml_value.h"

namespace cpuhp {

// `v` is the machine value (absent: every default). Throws ScenarioError.
MachineConfig ParseMachine(const std::optional<YamlValue>& v, const std::filesystem::path& file);

// The CPU model a machine gets when its scenario names none: qemu64, or max
// when the topology has threads (qemu64 is an AMD model, and QEMU warns that
// it does not support hyperthreading).
std::string DefaultCpuModel(const SmpTopology& smp);

}  // namespace cpuhp
