#include "vm/machine_spec.h"


namespace cpuhp {

const char* AccelName(Accel accel) {
  switch (accel) {
    case Accel::kKvm: return "kvm";
    case Accel::kTcg: return "tcg";
    default: return "auto";
  }
}

bool ParseAccel(std::string_view text, Accel* accel) {
  if (text == "auto") *accel = Accel::kAuto;
  else if (text == "kvm") *accel = Accel::kKvm;
  else if (text == "tcg") *accel = Accel::kTcg;
  else return false;
  return true;
}

std::string SmpTopology::ToQemuArg() const {
  std::string s = std::to_string(cpus);
  if (maxcpus > 0) s += ",maxcpus=" + std::to_string(maxcpus);
  if (sockets > 0) s += ",sockets=" + std::to_string(sockets);
  if (dies > 0) s += ",dies=" + std::to_string(dies);
  if (cores > 0) s += ",cores=" + std::to_string(cores);
  if (threads > 0) s += ",threads=" + std::to_string(threads);
  return s;
}

std::string SmpTopology::Validate() const {
  if (cpus < 1) return "cpus must be at least 1";
  if (maxcpus != 0 && maxcpus < cpus) {
    return "maxcpus (" + std::to_string(maxcpus) + ") is less than cpus (" +
           std::to_string(cpus) + ")";
  }
  for (auto [name, v] : {std::pair{"sockets", sockets}, {"dies", dies}, {"cores", cores},
                         {"threads", threads}}) {
    if (v < 0) return std::string(name) + " must not be negative";
  }
  if (sockets > 0 && cores > 0 && threads > 0) {
    int product = sockets * (dies > 0 ? dies : 1) * cores * threads;
    if (product != MaxCpus()) {
      return "sockets*dies*cores*threads = " + std::to_string(product) +
             " but maxcpus is " + std::to_string(MaxCpus());
    }
  }
  return "";
}

std::string ShellQuote(const std::string& word) {
  if (!word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789_-+=/.,:@%") == std::string::npos) {
    return word;
  }
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

std::string ShellQuote(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += ShellQuote(a);
  }
  return out;
}

// QemuOpts values end at a comma; a literal one is written twice. Run labels
// such as "topology[4,2]" and artifact paths derived from them carry commas.
static std::string OptValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    out += c;
    if (c == ',') out += ',';
  }
  return out;
}

bool ApplyMasquerade(std::string_view masquerade, MachineSpec& spec) {
  if (masquerade == "none") return true;
  if (masquerade != "vmware") return false;
  spec.machine_type += ",vmport=on";
  spec.cpu_model += ",-hypervisor";
  // Linux's vmware_platform() looks for this DMI serial prefix, then checks
  // the backdoor port that vmport provides.
  spec.extra_args.insert(spec.extra_args.end(), {"-smbios", "type=1,serial=VMware-cpuhp"});
  return true;
}

std::string NumaArgs(int nodes, const std::vector<NumaCpu>& cpus, int memory_mib,
                     std::vector<std::string>* args) {
  if (nodes < 1) return "a NUMA layout needs at least one node";
  if (memory_mib / nodes < 1) {
    return std::to_string(memory_mib) + " MiB cannot be split over " + std::to_string(nodes) +
           " nodes";
  }
  for (const auto& c : cpus) {
    if (c.node < 0 || c.node >= nodes) {
      return "node " + std::to_string(c.node) + " is not one of the " + std::to_string(nodes) +
             " nodes (0-" + std::to_string(nodes - 1) + ")";
    }
  }
  // QEMU wants the nodes' memory to add up to -m exactly.
  for (int n = 0; n < nodes; ++n) {
    int mib = memory_mib / nodes + (n == 0 ? memory_mib % nodes : 0);
    std::string id = "numa-mem" + std::to_string(n);
    args->insert(args->end(),
                 {"-object", "memory-backend-ram,id=" + id + ",size=" + std::to_string(mib) + "M",
                  "-numa", "node,nodeid=" + std::to_string(n) + ",memdev=" + id});
  }
  for (const auto& c : cpus) {
    std::string arg = "cpu,node-id=" + std::to_string(c.node);
    std::string props = c.props.ToDeviceArgs();
    if (!props.empty()) arg += "," + props;
    args->insert(args->end(), {"-numa", arg});
  }
  return "";
}

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

std::vector<std::string> BuildCommandLine(const MachineSpec& spec, Accel accel,
                                          const MachinePaths& paths, SocketMode mode) {
  const std::string server = mode == SocketMode::kQemuListens ? ",server=on,wait=off" : "";
  std::vector<std::string> a = {
      spec.qemu_binary,
      // guest= spelled out: a bare name with '=' in it (a --target label,
      // "smoke@qemu=10.0") would be read as a parameter of -name.
      "-name", "guest=" + OptValue(spec.name) + ",debug-threads=on",
      "-machine", spec.machine_type,
      "-accel", AccelName(accel),
      "-cpu", spec.cpu_model,
      "-smp", spec.smp.ToQemuArg(),
      "-m", std::to_string(spec.memory_mib),
      "-nodefaults", "-no-user-config", "-display", "none",
      // A guest panic (panic=-1) or triple fault ends QEMU instead of looping.
      "-no-reboot",
      "-chardev", "socket,id=qmp0,path=" + OptValue(paths.qmp_socket.string()) + server,
      "-mon", "chardev=qmp0,mode=control",
      "-chardev", paths.serial_socket.empty()
                      ? "file,id=serial0,path=" + OptValue(paths.serial_log.string())
                      : "socket,id=serial0,path=" + OptValue(paths.serial_socket.string()),
      "-serial", "chardev:serial0",
      "-device", "virtio-serial-pci,id=vser0",
      "-chardev", "socket,id=qga0,path=" + OptValue(paths.agent_socket.string()) + server,
      "-device", "virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0",
  };
  if (!spec.kernel.empty()) {
    a.insert(a.end(), {"-kernel", spec.kernel.string()});
    if (!spec.initrd.empty()) a.insert(a.end(), {"-initrd", spec.initrd.string()});
    if (!spec.append.empty()) a.insert(a.end(), {"-append", spec.append});
  }
  if (!spec.disk.empty()) {
    a.insert(a.end(), {"-drive", "file=" + OptValue(spec.disk.string()) + ",if=virtio,snapshot=on"});
  }
  for (const auto& dev : spec.cpu_devices) {
    std::string arg = dev.driver + ",id=" + dev.id;
    std::string props = dev.props.ToDeviceArgs();
    if (!props.empty()) arg += "," + props;
    a.insert(a.end(), {"-device", arg});
  }
  if (spec.incoming) a.insert(a.end(), {"-incoming", *spec.incoming});
  a.insert(a.end(), spec.extra_args.begin(), spec.extra_args.end());
  return a;
}

}  // namespace cpuhp
