// QEMU's view of the vCPUs: the QMP queries, and their JSON for reports.
#include "vm/host_view.h"

namespace cpuhp {

SmpTopology ParseMachineSmp(const nlohmann::json& reply) {
  SmpTopology smp;
  smp.cpus = reply.value("cpus", 1);
  smp.maxcpus = reply.value("maxcpus", 0);
  smp.sockets = reply.value("sockets", 0);
  smp.dies = reply.value("dies", 0);
  smp.cores = reply.value("cores", 0);
  smp.threads = reply.value("threads", 0);
  return smp;
}

HostView ReadHostView(QmpLink& qmp) {
  HostView host{QueryHotpluggableCpus(qmp), QueryCpusFast(qmp), std::nullopt, std::nullopt};
  try {
    host.smp = ParseMachineSmp(qmp.Execute("qom-get", {{"path", "/machine"}, {"property", "smp"}}));
  } catch (const QmpError&) {
    // QEMU before 6.1 has no readable smp property: the slots still tell maxcpus.
  }
  return host;
}

nlohmann::json ToJson(const HostView& host) {
  nlohmann::json slots = nlohmann::json::array();
  for (const auto& s : host.slots) {
    nlohmann::json j = {
        {"type", s.type}, {"vcpus-count", s.vcpus_count}, {"props", s.props.ToJson()}};
    if (s.qom_path) j["qom-path"] = *s.qom_path;
    slots.push_back(std::move(j));
  }
  nlohmann::json cpus = nlohmann::json::array();
  for (const auto& c : host.cpus) {
    cpus.push_back({{"cpu-index", c.cpu_index},
                    {"qom-path", c.qom_path},
                    {"thread-id", c.thread_id},
                    {"props", c.props.ToJson()}});
  }
  nlohmann::json smp = nullptr;
  if (host.smp) {
    smp = {{"cpus", host.smp->cpus},       {"maxcpus", host.smp->MaxCpus()},
           {"sockets", host.smp->sockets}, {"dies", host.smp->dies},
           {"cores", host.smp->cores},     {"threads", host.smp->threads}};
  }
  nlohmann::json out = {{"slots", slots}, {"cpus", cpus}, {"smp", smp}};
  if (host.libvirt) out["libvirt"] = ToJson(*host.libvirt);
  return out;
}

}  // namespace cpuhp
