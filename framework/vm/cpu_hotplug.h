// vCPU hotplug over QMP: the slots QEMU offers, and plugging/unplugging them
// with the events that say the guest took part.
//
//   CpuHotplug hp(vm.Qmp());
//   auto slot = hp.FreeSlots().at(0);
//   hp.Plug(slot, "cpu1", Deadline::After(kHotplugSettleTimeout));   // waits for ACPI _OST
//   hp.Unplug("cpu1", Deadline::After(kHotplugSettleTimeout));       // waits for DEVICE_DELETED
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "qmp/qmp_client.h"
#include "vm/cpu_props.h"

namespace cpuhp {

// One entry of query-hotpluggable-cpus.
struct HotpluggableCpu {
  std::string type;  // the -device driver, e.g. "qemu64-x86_64-cpu"
  int vcpus_count = 1;
  CpuProps props;
  std::optional<std::string> qom_path;  // set when plugged
  bool plugged() const { return qom_path.has_value(); }
  bool operator==(const HotpluggableCpu&) const = default;
};

// One entry of query-cpus-fast.
struct CpuInfoFast {
  int cpu_index = -1;
  std::string qom_path;
  int64_t thread_id = 0;
  CpuProps props;
  bool operator==(const CpuInfoFast&) const = default;
};

std::vector<HotpluggableCpu> ParseHotpluggableCpus(const nlohmann::json& reply);
std::vector<CpuInfoFast> ParseCpusFast(const nlohmann::json& reply);
std::vector<HotpluggableCpu> QueryHotpluggableCpus(QmpLink& qmp);
std::vector<CpuInfoFast> QueryCpusFast(QmpLink& qmp);

// The device id QEMU knows a plugged slot's CPU by: the last element of its
// qom-path when it was device_add'ed with an id ("/machine/peripheral/cpu1"),
// nullopt for boot CPUs ("/machine/unattached/device[0]").
std::optional<std::string> PluggedDeviceId(const HotpluggableCpu& slot);

// The guest refused a hotplug operation (_OST with a failure status).
class HotplugError : public Error {
 public:
  using Error::Error;
};

class CpuHotplug {
 public:
  explicit CpuHotplug(QmpLink& qmp) : qmp_(qmp) {}

  std::vector<HotpluggableCpu> Slots() { return QueryHotpluggableCpus(qmp_); }
  // Unplugged slots, in QEMU's order sorted by (socket, die, core, thread).
  std::vector<HotpluggableCpu> FreeSlots();

  // device_add of `slot`'s driver with its props and `id`, then waits for the
  // guest's ACPI _OST for it (ACPI_DEVICE_OST). Throws QmpError if QEMU
  // refuses, TimeoutError if the guest never acknowledges.
  void Plug(const HotpluggableCpu& slot, const std::string& id, const Deadline& deadline);
  // device_add without waiting for the guest (for expect_error and for
  // measuring): the raw QMP call.
  void DeviceAdd(const std::string& driver, const std::string& id, const CpuProps& props,
                 const Deadline& deadline);
  // How an unplug completed.
  struct UnplugResult {
    // The ACPI slot the guest ejected ("1").
    std::string acpi_slot;
    // QEMU sent DEVICE_DELETED for the CPU. QEMU 7.2 sends it when the CPU
    // object is finalized, which under TCG may never happen for a CPU that
    // ran; the eject is then complete once the guest's _OST reports success
    // and query-hotpluggable-cpus shows the slot free.
    bool device_deleted_event = false;
  };
  // device_del of `target` (a device id, or the QOM path of a CPU from -smp,
  // which has no id), then waits for the guest to eject the CPU
  // (ACPI_DEVICE_OST, source 3 "eject request", status 0) and QEMU to free the
  // slot, or for DEVICE_DELETED. Throws QmpError if QEMU refuses,
  // HotplugError if the guest refuses the eject (_OST status 0x80-0x83),
  // TimeoutError otherwise.
  UnplugResult Unplug(const std::string& target, const Deadline& deadline);

 private:
  QmpLink& qmp_;
};

}  // namespace cpuhp
