#include "scenario/topology.h"

namespace cpuhp {

std::optional<ResolvedTopology> ResolveTopology(const SmpTopology& smp, std::string* error) {
  std::string problem = smp.Validate();
  if (!problem.empty()) {
    *error = problem;
    return std::nullopt;
  }
  // hw/core/machine-smp.c (QEMU 7.2), machine types >= 6.2: prefer cores.
  int cpus = smp.cpus;
  int maxcpus = smp.maxcpus > 0 ? smp.maxcpus : cpus;
  int sockets = smp.sockets, dies = smp.dies > 0 ? smp.dies : 1, cores = smp.cores,
      threads = smp.threads;
  auto divide = [&](int value, int by) { return by > 0 ? value / by : 0; };
  if (cores == 0) {
    sockets = sockets > 0 ? sockets : 1;
    threads = threads > 0 ? threads : 1;
    cores = divide(maxcpus, sockets * dies * threads);
  } else if (sockets == 0) {
    threads = threads > 0 ? threads : 1;
    sockets = divide(maxcpus, dies * cores * threads);
  }
  if (threads == 0) threads = divide(maxcpus, sockets * dies * cores);
  int product = sockets * dies * cores * threads;
  if (sockets < 1 || cores < 1 || threads < 1 || product != maxcpus) {
    *error = "the topology does not add up: sockets (" + std::to_string(sockets) + ") * dies (" +
             std::to_string(dies) + ") * cores (" + std::to_string(cores) + ") * threads (" +
             std::to_string(threads) + ") = " + std::to_string(product) + ", but maxcpus is " +
             std::to_string(maxcpus);
    return std::nullopt;
  }
  constexpr int kQ35MaxCpus = 288;
  if (maxcpus > kQ35MaxCpus) {
    *error = "maxcpus " + std::to_string(maxcpus) + " is more than q35 supports (" +
             std::to_string(kQ35MaxCpus) + ")";
    return std::nullopt;
  }
  return ResolvedTopology{{sockets, dies, cores, threads}, cpus, maxcpus};
}

std::string SlotDeviceId(const CpuProps& props) {
  std::string id = "cpu";
  if (props.socket_id) id += "-s" + std::to_string(*props.socket_id);
  if (props.die_id) id += "d" + std::to_string(*props.die_id);
  if (props.core_id) id += (props.socket_id ? "c" : "-c") + std::to_string(*props.core_id);
  if (props.thread_id) id += "t" + std::to_string(*props.thread_id);
  return id;
}

std::string DescribeProps(const CpuProps& props) {
  std::string out;
  auto add = [&](const char* name, const std::optional<int>& v) {
    if (!v) return;
    if (!out.empty()) out += ' ';
    out += std::string(name) + " " + std::to_string(*v);
  };
  add("socket", props.socket_id);
  add("die", props.die_id);
  add("core", props.core_id);
  add("thread", props.thread_id);
  return out.empty() ? "(no props)" : out;
}

}  // namespace cpuhp
