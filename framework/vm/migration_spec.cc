// The destination's command line, derived from the source's current state.
#include <algorithm>
#include <map>

#include "util/text.h"
#include "vm/migration.h"

namespace cpuhp {
namespace {

constexpr std::string_view kPeripheral = "/machine/peripheral/";
constexpr std::string_view kPeripheralAnon = "/machine/peripheral-anon/";

}  // namespace

std::vector<CpuDevice> PluggedCpuDevices(const HostView& source, const SmpTopology& smp,
                                         const std::vector<std::string>& omit) {
  std::vector<CpuDevice> devices;
  int boot_vcpus = 0;
  for (const auto& slot : source.slots) {
    if (!slot.plugged()) continue;
    if (auto id = PluggedDeviceId(slot)) {
      devices.push_back({slot.type, *id, slot.props});
    } else if (slot.qom_path->rfind(kPeripheralAnon, 0) == 0) {
      throw MigrationError("the CPU at " + slot.props.ToDeviceArgs() + " (" + *slot.qom_path +
                           ") was plugged without an id: a destination cannot recreate it "
                           "with the same QOM path; plug CPUs with an id");
    } else {
      boot_vcpus += slot.vcpus_count;
    }
  }
  // -smp N creates the first N CPUs; if one of them was unplugged, no
  // command line gives the destination the source's set of CPUs.
  if (boot_vcpus != smp.cpus) {
    throw MigrationError("the source has " + std::to_string(boot_vcpus) +
                         " boot vCPU(s) left but was started with -smp " + smp.ToQemuArg() +
                         ": a boot CPU was unplugged, and a destination with that -smp would "
                         "have a CPU the source lacks");
  }

  // query-cpus-fast lists CPUs in the order they were created; give the
  // destination the same order so that even its list order matches.
  std::map<std::string, size_t> order;
  for (size_t i = 0; i < source.cpus.size(); ++i) order.emplace(source.cpus[i].qom_path, i);
  auto rank = [&](const CpuDevice& d) {
    auto it = order.find(std::string(kPeripheral) + d.id);
    return it == order.end() ? source.cpus.size() : it->second;
  };
  std::stable_sort(devices.begin(), devices.end(),
                   [&](const CpuDevice& a, const CpuDevice& b) { return rank(a) < rank(b); });

  for (const auto& id : omit) {
    auto it = std::find_if(devices.begin(), devices.end(),
                           [&](const CpuDevice& d) { return d.id == id; });
    if (it == devices.end()) {
      std::vector<std::string> ids;
      for (const auto& d : devices) ids.push_back(d.id);
      throw MigrationError("omit_cpu_devices names \"" + id +
                           "\", which is not a hot-plugged CPU of the source (plugged: " +
                           (ids.empty() ? "none" : Join(ids)) + ")");
    }
    devices.erase(it);
  }
  return devices;
}

MachineSpec DestinationSpecFrom(const MachineSpec& source_spec, const HostView& source_view,
                                const std::string& destination_name,
                                const MigrationOptions& options) {
  MachineSpec spec = source_spec;
  spec.name = destination_name;
  spec.incoming = "defer";
  spec.cpu_devices = PluggedCpuDevices(source_view, source_spec.smp, options.omit_cpu_devices);
  return spec;
}

MachineSpec DestinationSpec(Vm& source, const std::string& destination_name,
                            const MigrationOptions& options) {
  MachineSpec spec =
      DestinationSpecFrom(source.spec(), ReadHostView(source.Qmp()), destination_name, options);
  // The source's accel as resolved: "auto" must not resolve differently.
  spec.accel = source.accel();
  return spec;
}

}  // namespace cpuhp
