// A MachineSpec as JSON: the spec.json every run directory keeps, from which
// `cpuhp repro` rebuilds the exact QEMU command line.
#pragma once

#include <nlohmann/json.hpp>

#include "vm/machine_spec.h"

namespace cpuhp {

nlohmann::json SpecToJson(const MachineSpec& spec);
// Throws ProtocolError naming the field on malformed input.
MachineSpec SpecFromJson(const nlohmann::json& j);

}  // namespace cpuhp
