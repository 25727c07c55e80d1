// The spec.json of a recorded run, as the repro generator reads it: shared
// by the repro unit tests and the transcript fuzzer, which both need a run
// dir to generate a script from.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "report/spec_json.h"
#include "vm/machine_spec.h"

namespace cpuhp {

inline nlohmann::json RecordedSpecJson(const std::string& name) {
  MachineSpec spec;
  spec.name = name;
  spec.smp.cpus = 1;
  spec.smp.maxcpus = 4;
  spec.kernel = "/kit/vmlinux";
  spec.initrd = "/kit/initramfs.img";
  spec.append = "console=ttyS0 panic=-1";
  nlohmann::json j = SpecToJson(spec);
  j["accel_resolved"] = "tcg";
  return j;
}

}  // namespace cpuhp
