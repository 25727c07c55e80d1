// Where a vCPU sits: QEMU's CpuInstanceProperties.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace cpuhp {

struct CpuProps {
  std::optional<int> node_id;
  std::optional<int> socket_id;
  std::optional<int> die_id;
  std::optional<int> cluster_id;
  std::optional<int> core_id;
  std::optional<int> thread_id;

  // {"socket-id": 1, "core-id": 0, "thread-id": 0}: only the set fields.
  nlohmann::json ToJson() const;
  static CpuProps FromJson(const nlohmann::json& j);
  // "socket-id=1,core-id=0,thread-id=0": for -device and messages.
  std::string ToDeviceArgs() const;
  bool operator==(const CpuProps&) const = default;
};

}  // namespace cpuhp
