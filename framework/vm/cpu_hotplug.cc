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

std::vector<HotpluggableCpu> QueryHotpluggableCpus(QmpClient& qmp) {
  return ParseHotpluggableCpus(qmp.Execute("query-hotpluggable-cpus"));
}

std::vector<CpuInfoFast> QueryCpusFast(QmpClient& qmp) {
  return ParseCpusFast(qmp.Execute("query-cpus-fast"));
}

std::optional<std::string> PluggedDeviceId(const HotpluggableCpu& slot) {
  constexpr std::string_view kPeripheral = "/machine/peripheral/";
  if (!slot.qom_path || slot.qom_path->rfind(kPeripheral, 0) != 0) return std::nullopt;
  return slot.qom_path->substr(kPeripheral.size());
}

std::vector<HotpluggableCpu> CpuHotplug::FreeSlots() {
  std::vector<HotpluggableCpu> free;
  for (auto& s : Slots()) {
    if (!s.plugged()) free.push_back(std::move(s));
  }
  auto key = [](const HotpluggableCpu& s) {
    return std::tuple(s.props.socket_id.value_or(0), s.props.die_id.value_or(0),
                      s.props.core_id.value_or(0), s.props.thread_id.value_or(0));
  };
  std::sort(free.begin(), free.end(), [&](const auto& a, const auto& b) { return key(a) < key(b); });
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

void CpuHotplug::Unplug(const std::string& id, const Deadline& deadline) {
  LOG(kInfo, "hotplug") << "unplugging " << id;
  qmp_.Execute("device_del", {{"id", id}}, deadline);
  qmp_.WaitForEvent("DEVICE_DELETED", MatchData({{"device", id}}), deadline);
}

}  // namespace cpuhp
