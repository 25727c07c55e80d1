// MakeVm(): the one place that knows which backends exist.
#include "vm/vm.h"

#include "vm/machine.h"

namespace cpuhp {

std::unique_ptr<Vm> MakeVm(MachineSpec spec, std::filesystem::path artifacts_dir) {
  return std::make_unique<Machine>(std::move(spec), std::move(artifacts_dir));
}

}  // namespace cpuhp
