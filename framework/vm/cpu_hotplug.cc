#include "vm/cpu_hotplug.h"

#include <algorithm>
#include <tuple>

#include "util/log.h"

namespace cpuhp {

std::vector<HotpluggableCpu> ParseHotpluggableCpus(const nlohmann::json& reply) {
  std::vector<HotpluggableCpu> out;
  for (const auto& e : reply) {
    HotpluggableCpu c;
    c.type = e.value("type", "");
    c.vcpus_count = e.value("vcpus-count", 1);
    c.props = CpuProps::FromJson(e.value("props", nlohmann::json::object()));
    if (auto it = e.find("qom-path"); it != e.end() && it->is_string()) c.qom_path = *it;
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<CpuInfoFast> ParseCpusFast(const nlohmann::json& reply) {
  std::vector<CpuInfoFast> out;
  for (const auto& e : reply) {
    CpuInfoFast c;
    c.cpu_index = e.value("cpu-index", -1);
    c.qom_path = e.value("qom-path", "");
    c.thread_id = e.value("thread-id", int64_t{0});
    c.props = CpuProps::FromJson(e.value("props", nlohmann::json::object()));
    out.push_back(std::move(c));
  }
  return out;
}

std::vector<HotpluggableCpu> QueryHotpluggableCpus(QmpLink& qmp) {
  return ParseHotpluggableCpus(qmp.Execute("query-hotpluggable-cpus"));
}

std::vector<CpuInfoFast> QueryCpusFast(QmpLink& qmp) {
  return ParseCpusFast(qmp.Execute("query-cpus-fast"));
}

std::optional<std::string> PluggedDeviceId(const HotpluggableCpu& slot) {
  constexpr std::string_view kPeripheral = "/machine/peripheral/";
  if (!slot.qom_path || slot.qom_path->rfind(kPeripheral, 0) != 0) return std::nullopt;
  return slot.qom_path->substr(kPeripheral.size());
}

bool SlotOrderLess(const HotpluggableCpu& a, const HotpluggableCpu& b) {
  auto key = [](const HotpluggableCpu& s) {
    return std::tuple(s.props.socket_id.value_or(0), s.props.die_id.value_or(0),
                      s.props.core_id.value_or(0), s.props.thread_id.value_or(0));
  };
  return key(a) < key(b);
}

std::vector<HotpluggableCpu> HotplugDriver::FreeSlots() {
  std::vector<HotpluggableCpu> free;
  for (auto& s : Slots()) {
    if (!s.plugged()) free.push_back(std::move(s));
  }
  std::sort(free.begin(), free.end(), SlotOrderLess);
  return free;
}

void CpuHotplug::DeviceAdd(const std::string& driver, const std::string& id,
                           const CpuProps& props, const Deadline& deadline) {
  nlohmann::json args = props.ToJson();
  args.erase("node-id");
  args["driver"] = driver;
  args["id"] = id;
  qmp_.Execute("device_add", args, deadline);
}

void CpuHotplug::Plug(const HotpluggableCpu& slot, const std::string& id,
                      const Deadline& deadline) {
  LOG(kInfo, "hotplug") << "plugging " << id << " (" << slot.type << " "
                        << slot.props.ToDeviceArgs() << ")";
  DeviceAdd(slot.type, id, slot.props, deadline);
  // The guest's ACPI processor driver evaluates _OST once it has handled the
  // Device Check: that is when the new CPU is present in the guest.
  qmp_.WaitForEvent("ACPI_DEVICE_OST", MatchData({{"info", {{"device", id}}}}), deadline);
}

namespace {
// ACPI _OST source and status codes (ACPI 6.x, table "_OST Source Event Codes").
constexpr int kOstEjectRequest = 3;
constexpr int kOstSuccess = 0;
constexpr int kOstEjectInProgress = 0x84;

std::string OstStatusName(int status) {
  switch (status) {
    case 0x80: return "0x80 (eject not supported by OSPM)";
    case 0x81: return "0x81 (device in use)";
    case 0x82: return "0x82 (device busy)";
    case 0x83: return "0x83 (eject dependency busy)";
    default: return std::to_string(status);
  }
}
}  // namespace

std::string AcpiSlotOf(const std::vector<HotpluggableCpu>& slots, const std::string& target) {
  // The guest's _OST names the ACPI slot, and the device only when it has an
  // id (CPUs from -smp have none): follow the eject by slot. QEMU numbers
  // ACPI CPU slots in possible-CPU (APIC id) order and lists them in
  // query-hotpluggable-cpus last first.
  for (size_t i = 0; i < slots.size(); ++i) {
    if (PluggedDeviceId(slots[i]) == target || slots[i].qom_path == target) {
      return std::to_string(slots.size() - 1 - i);
    }
  }
  return "";
}

CpuHotplug::UnplugResult CpuHotplug::Unplug(const std::string& target,
                                            const Deadline& deadline) {
  LOG(kInfo, "hotplug") << "unplugging " << target;
  std::string acpi_slot = AcpiSlotOf(Slots(), target);
  qmp_.Execute("device_del", {{"id", target}}, deadline);
  return WaitForUnplug(qmp_, target, std::move(acpi_slot), deadline);
}

HotplugDriver::UnplugResult WaitForUnplug(QmpLink& qmp, const std::string& target,
                                          std::string acpi_slot, const Deadline& deadline) {
  HotplugDriver::UnplugResult result;
  result.acpi_slot = std::move(acpi_slot);
  auto is_deleted = [&](const nlohmann::json& ev) {
    return ev["event"] == "DEVICE_DELETED" && JsonMatches(ev["data"], {{"device", target}});
  };
  auto is_eject_ost = [&](const nlohmann::json& ev) {
    if (ev["event"] != "ACPI_DEVICE_OST") return false;
    const auto& info = ev["data"]["info"];
    return info.value("source", -1) == kOstEjectRequest &&
           (info.value("device", "") == target || info.value("slot", "") == result.acpi_slot);
  };
  for (;;) {
    auto ev = qmp.TryWaitForAnyEvent(
        [&](const nlohmann::json& e) { return is_deleted(e) || is_eject_ost(e); }, deadline);
    if (!ev) {
      throw TimeoutError("unplug of " + target + ": the guest did not finish the eject (ACPI slot " +
                         result.acpi_slot + "; no ACPI_DEVICE_OST with status 0)");
    }
    if (is_deleted(*ev)) {
      result.device_deleted_event = true;
      return result;
    }
    int status = (*ev)["data"]["info"].value("status", -1);
    if (status == kOstEjectInProgress) continue;
    if (status != kOstSuccess) {
      throw HotplugError("unplug of " + target + ": the guest refused the eject, _OST status " +
                         OstStatusName(status));
    }
    break;
  }
  for (const auto& slot : QueryHotpluggableCpus(qmp)) {
    if (PluggedDeviceId(slot) == target || slot.qom_path == target) {
      throw HotplugError("unplug of " + target + ": the guest reported the eject done but QEMU "
                         "still has the CPU plugged at " + *slot.qom_path);
    }
  }
  // The event may still come (it does for some CPUs); take it if it is already here.
  result.device_deleted_event =
      qmp.TryWaitForAnyEvent(is_deleted, Deadline::AfterUnscaled(Clock::duration::zero())).has_value();
  if (!result.device_deleted_event) {
    LOG(kDebug, "hotplug") << target << ": ejected and slot freed; DEVICE_DELETED not (yet) sent";
  }
  return result;
}

}  // namespace cpuhp
