// A scenario's `machine:` map, from YAML to the MachineConfig that boots:
// the topology checked, paths resolved against the scenario file, the CPU
// model defaulted and the guest kit applied.
#pragma once

#include <filesystem>
#include <optional>

#include "scenario/scenario.h"
#include "scenario/yaml_value.h"
#include "vm/serial_log.h"

namespace cpuhp {

// `v` is the machine value (absent: every default). Throws ScenarioError.
MachineConfig ParseMachine(const std::optional<YamlValue>& v, const std::filesystem::path& file);

// `hotplug_cpus` as a scenario writes it: "all", "none" or the number.
std::string HotplugCpusWord(const std::optional<int>& hotplug_cpus);

// Why a guest that booted with these `possible` and `present` masks cannot
// run the machine's scenario, "" when it can: it must allow all of maxcpus,
// or take exactly `hotplug_cpus` hot-added CPUs when the scenario says how
// many. `console` is the guest's own "Allowing ..." line, quoted when there
// is one (docs/known-issues.md has the kernels that allow too few).
std::string HotplugCpusProblem(const MachineConfig& machine, const CpuSet& possible,
                               const CpuSet& present,
                               const std::optional<CpuAllowanceLine>& console);

// The CPU model a machine gets when its scenario names none: qemu64, or max
// when the topology has threads (qemu64 is an AMD model, and QEMU warns that
// it does not support hyperthreading).
std::string DefaultCpuModel(const SmpTopology& smp);

}  // namespace cpuhp
