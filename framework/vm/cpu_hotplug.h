// vCPU hotplug: the slots QEMU offers, and plugging/unplugging them with the
// events that say the guest took part. HotplugDriver is what a running Vm
// hands out (Vm::Hotplug()); CpuHotplug is its direct-QEMU, QMP form.
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

// Plugging and unplugging vCPUs on a running VM: what the runner needs,
// whatever the backend does underneath (direct QEMU: device_add/device_del
// over QMP, CpuHotplug; libvirt: virDomainSetVcpu). Every implementation
// reads the slots from QEMU (query-hotpluggable-cpus), waits for the guest's
// part (ACPI _OST, the slot freed) within the deadline, and throws QmpError
// (or the backend's own typed error) when QEMU refuses, HotplugError when the
// guest refuses, TimeoutError when the guest never answers.
class HotplugDriver {
 public:
  virtual ~HotplugDriver() = default;

  virtual std::vector<HotpluggableCpu> Slots() = 0;
  // Unplugged slots, in QEMU's order sorted by (socket, die, core, thread).
  std::vector<HotpluggableCpu> FreeSlots();

  // Plugs `slot`'s CPU under device id `id`, then waits for the guest's ACPI
  // _OST for it (ACPI_DEVICE_OST).
  virtual void Plug(const HotpluggableCpu& slot, const std::string& id,
                    const Deadline& deadline) = 0;
  // Asks for a CPU of `driver` at `props` without checking the slot and
  // without waiting for the guest, so that QEMU's refusal is what comes back
  // (expect_error) and a plug can be timed.
  virtual void DeviceAdd(const std::string& driver, const std::string& id, const CpuProps& props,
                         const Deadline& deadline) = 0;
  // How an unplug completed.
  struct UnplugResult {
    // The ACPI slot the guest ejected ("1").
    std::string acpi_slot;
    // QEMU sent DEVICE_DELETED for the CPU. QEMU 7.2 sends it when the CPU
    // object is finalized, which under TCG may never happen for a CPU that
    // ran; the eject is then complete once the guest's _OST reports success
    // and query-hotpluggable-cpus shows the slot free.
    bool device_deleted_event = false;
    // Where the backend's own bookkeeping disagreed with QEMU and the guest
    // (libvirt reported a timeout while the guest ejected the CPU and QEMU
    // freed its slot); empty when it agreed. Recorded, never papered over.
    std::string backend_disagreement = {};
  };
  // Unplugs `target` (a device id, or the QOM path of a CPU from -smp, which
  // has no id), then waits for the guest to eject the CPU (ACPI_DEVICE_OST,
  // source 3 "eject request", status 0) and QEMU to free the slot, or for
  // DEVICE_DELETED. HotplugError if the guest refuses the eject (_OST status
  // 0x80-0x83).
  virtual UnplugResult Unplug(const std::string& target, const Deadline& deadline) = 0;
};

// The order libvirt (and FreeSlots) puts slots in: by (socket, die, core, thread).
bool SlotOrderLess(const HotpluggableCpu& a, const HotpluggableCpu& b);
// The ACPI slot number of the CPU `target` (device id or QOM path) among
// `slots` (query-hotpluggable-cpus order); "" when none has it.
std::string AcpiSlotOf(const std::vector<HotpluggableCpu>& slots, const std::string& target);
// After an unplug request for `target` (device id or QOM path): waits for the
// guest to eject it (ACPI_DEVICE_OST source 3 status 0, or DEVICE_DELETED)
// and QEMU to free its slot, as HotplugDriver::Unplug describes.
HotplugDriver::UnplugResult WaitForUnplug(QmpLink& qmp, const std::string& target,
                                          std::string acpi_slot, const Deadline& deadline);

// The direct-QEMU HotplugDriver: device_add/device_del over QMP.
class CpuHotplug final : public HotplugDriver {
 public:
  explicit CpuHotplug(QmpLink& qmp) : qmp_(qmp) {}

  std::vector<HotpluggableCpu> Slots() override { return QueryHotpluggableCpus(qmp_); }
  // device_add of `slot`'s driver with its props and `id`, then waits for the
  // guest's ACPI _OST for it. Throws QmpError if QEMU refuses, TimeoutError if
  // the guest never acknowledges.
  void Plug(const HotpluggableCpu& slot, const std::string& id, const Deadline& deadline) override;
  // device_add without waiting for the guest: the raw QMP call.
  void DeviceAdd(const std::string& driver, const std::string& id, const CpuProps& props,
                 const Deadline& deadline) override;
  // device_del of `target`, then the waits HotplugDriver::Unplug describes.
  // Throws QmpError if QEMU refuses.
  UnplugResult Unplug(const std::string& target, const Deadline& deadline) override;

 private:
  QmpLink& qmp_;
};

}  // namespace cpuhp
