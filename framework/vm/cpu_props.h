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
  // socket-id, core-id, thread-id (and die-id when given).
  static CpuProps At(int socket, int core, int thread, std::optional<int> die = std::nullopt);
  // "socket-id=1,core-id=0,thread-id=0": for -device and messages.
  std::string ToDeviceArgs() const;
  bool operator==(const CpuProps&) const = default;
};

// The shape of an x86 CPU topology: how many sockets, dies per socket, cores
// per die and threads per core (each at least 1). Slots are indexed in
// QEMU's possible-CPU order: threads fastest, then cores, dies, sockets.
struct TopologyShape {
  int sockets = 1;
  int dies = 1;
  int cores = 1;
  int threads = 1;

  int Slots() const { return sockets * dies * cores * threads; }
  // Slot `index`'s props; die-id only where dies > 1, as QEMU reports it.
  CpuProps SlotProps(int index) const;
  // The index of the slot with these props, or nullopt if no slot has them.
  std::optional<int> SlotIndex(const CpuProps& props) const;
  // The initial APIC id QEMU gives that slot: each level's id in a field
  // just wide enough for its count (x86_apicid_from_topo_ids).
  int ApicId(const CpuProps& props) const;
  bool operator==(const TopologyShape&) const = default;
};

// Bits of an APIC id field holding `count` ids: 0 for 1, 1 for 2, 2 for 3-4.
int ApicIdFieldWidth(int count);

}  // namespace cpuhp
