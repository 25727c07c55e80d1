// MakeVm(): the one place that knows which backends exist.
#include "vm/vm.h"

#include "vm/machine.h"
#ifdef CPUHP_WITH_LIBVIRT
#include "vm/libvirt_daemon.h"
#include "vm/libvirt_machine.h"
#endif

namespace cpuhp {

std::string WithShutdownReason(const std::string& message, const std::string& reason) {
  if (reason.empty() || message.find(reason) != std::string::npos) return message;
  return message + "; " + reason;
}

std::unique_ptr<Vm> MakeVm(MachineSpec spec, std::filesystem::path artifacts_dir) {
  if (spec.backend == "libvirt") {
#ifdef CPUHP_WITH_LIBVIRT
    return std::make_unique<LibvirtMachine>(std::move(spec), std::move(artifacts_dir));
#else
    throw Error("vm " + spec.name + ": backend 'libvirt' is not in this build (CPUHP_WITH_LIBVIRT off)");
#endif
  }
  if (spec.backend != "qemu") throw Error("vm " + spec.name + ": unknown backend '" + spec.backend + "'");
  return std::make_unique<Machine>(std::move(spec), std::move(artifacts_dir));
}

bool BackendBuilt(std::string_view backend) {
#ifdef CPUHP_WITH_LIBVIRT
  if (backend == "libvirt") return true;
#endif
  return backend == "qemu";
}

std::string BackendUnavailableReason(std::string_view backend) {
  if (!BackendBuilt(backend)) return "backend '" + std::string(backend) + "' is not in this build";
#ifdef CPUHP_WITH_LIBVIRT
  if (backend == "libvirt") return LibvirtDaemonUnavailableReason();
#endif
  return "";
}

}  // namespace cpuhp
