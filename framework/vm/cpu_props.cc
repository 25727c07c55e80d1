#include "vm/cpu_props.h"

#include <bit>

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

CpuProps CpuProps::At(int socket, int core, int thread, std::optional<int> die) {
  CpuProps p;
  p.socket_id = socket;
  p.die_id = die;
  p.core_id = core;
  p.thread_id = thread;
  return p;
}

CpuProps TopologyShape::SlotProps(int index) const {
  CpuProps p;
  p.thread_id = index % threads;
  p.core_id = (index / threads) % cores;
  if (dies > 1) p.die_id = (index / (threads * cores)) % dies;
  p.socket_id = index / (threads * cores * dies);
  return p;
}

std::optional<int> TopologyShape::SlotIndex(const CpuProps& props) const {
  int socket = props.socket_id.value_or(0);
  int die = props.die_id.value_or(0);
  int core = props.core_id.value_or(0);
  int thread = props.thread_id.value_or(0);
  if (socket < 0 || socket >= sockets || die < 0 || die >= dies || core < 0 || core >= cores ||
      thread < 0 || thread >= threads) {
    return std::nullopt;
  }
  return ((socket * dies + die) * cores + core) * threads + thread;
}

int ApicIdFieldWidth(int count) {
  if (count <= 1) return 0;
  return std::bit_width(static_cast<unsigned>(count - 1));
}

int TopologyShape::ApicId(const CpuProps& props) const {
  int thread_bits = ApicIdFieldWidth(threads);
  int core_bits = ApicIdFieldWidth(cores);
  int die_bits = ApicIdFieldWidth(dies);
  return props.thread_id.value_or(0) | props.core_id.value_or(0) << thread_bits |
         props.die_id.value_or(0) << (thread_bits + core_bits) |
         props.socket_id.value_or(0) << (thread_bits + core_bits + die_bits);
}

}  // namespace cpuhp
