// QEMU's own view of a VM's vCPUs: the slots (query-hotpluggable-cpus), the
// vCPU threads (query-cpus-fast) and the -smp it runs with. It lives with
// QEMU (vm/) because the migration code reads and compares it as much as the
// checker does; check/ only compares it with the guest's view.
//
//   HostView view = ReadHostView(vm.Qmp());
//   report["host"] = ToJson(view);  // the one JSON shape for slots in reports
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "qmp/qmp_client.h"
#include "vm/cpu_hotplug.h"
#include "vm/cpu_props.h"
#include "vm/libvirt_view.h"
#include "vm/machine_spec.h"

namespace cpuhp {

// What QEMU says: query-hotpluggable-cpus and query-cpus-fast, and the -smp
// it runs with (qom-get /machine smp; nullopt where QEMU lacks that property).
struct HostView {
  std::vector<HotpluggableCpu> slots = {};
  std::vector<CpuInfoFast> cpus = {};
  std::optional<SmpTopology> smp = {};
  // The backend's own bookkeeping (libvirt's <vcpus> and counts), read by
  // CheckMachine from Vm::ReadBackendView(); nullopt for direct QEMU.
  std::optional<LibvirtView> libvirt = {};
};
// Throws QmpError, TimeoutError, ConnectionError.
HostView ReadHostView(QmpLink& qmp);
// The reply of qom-get /machine smp: {"cpus": 2, "maxcpus": 8, "sockets": 2, ...}.
SmpTopology ParseMachineSmp(const nlohmann::json& reply);
// The QMP replies' shape: {"slots": [...], "cpus": [...], "smp": {...} or null}.
nlohmann::json ToJson(const HostView& host);

}  // namespace cpuhp
