#include "vm/cpu_props.h"

namespace cpuhp {
namespace {
struct Field {
  const char* key;
  std::optional<int> CpuProps::*member;
};
constexpr Field kFields[] = {
    {"node-id", &CpuProps::node_id},   {"socket-id", &CpuProps::socket_id},
    {"die-id", &CpuProps::die_id},     {"cluster-id", &CpuProps::cluster_id},
    {"core-id", &CpuProps::core_id},   {"thread-id", &CpuProps::thread_id},
};
}  // namespace

nlohmann::json CpuProps::ToJson() const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& f : kFields) {
    if (this->*f.member) j[f.key] = *(this->*f.member);
  }
  return j;
}

CpuProps CpuProps::FromJson(const nlohmann::json& j) {
  CpuProps p;
  for (const auto& f : kFields) {
    if (auto it = j.find(f.key); it != j.end() && it->is_number_integer()) {
      p.*f.member = it->get<int>();
    }
  }
  return p;
}

std::string CpuProps::ToDeviceArgs() const {
  std::string out;
  for (const auto& f : kFields) {
    // node-id is not a -device property of x86 CPUs; NUMA placement comes from -numa.
    if (f.member == &CpuProps::node_id || !(this->*f.member)) continue;
    if (!out.empty()) out += ',';
    out += std::string(f.key) + "=" + std::to_string(*(this->*f.member));
  }
  return out;
}

}  // namespace cpuhp
