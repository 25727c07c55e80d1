#include "scenario/machine_config.h"

#include <algorithm>
#include <cctype>

#include "scenario/duration.h"
#include "scenario/topology.h"
#include "util/error.h"
#include "vm/guest_kit.h"
#include "vm/kits.h"
#include "vm/serial_log.h"
#include "vm/vm.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;

void Read(const YamlValue& value, const fs::path& file, MachineConfig& c);

int ParseMemoryMib(const YamlValue& v) {
  if (v.IsScalar() && !v.IsNull()) {
    std::string text = v.Scalar();
    size_t digits = text.find_first_not_of("0123456789");
    std::string unit = digits == std::string::npos ? "" : text.substr(digits);
    std::string number = text.substr(0, digits);
    if (!number.empty() && number.size() < 8) {
      long long n = std::stoll(number);
      long long mib = -1;
      if (unit.empty() || unit == "M" || unit == "MiB" || unit == "m")
        mib = n;
      else if (unit == "G" || unit == "GiB" || unit == "g")
        mib = n * 1024;
      if (mib >= 64 && mib <= 1024 * 1024) return static_cast<int>(mib);
      if (mib >= 0) v.Fail("memory must be between 64 MiB and 1 TiB, got " + text);
    }
  }
  v.Fail("expected memory in MiB (512) or with a unit (512M, 2G), got " + v.TypeName());
}

fs::path ResolvePath(const YamlValue& v, const fs::path& scenario_file) {
  fs::path p = v.AsString();
  if (p.is_relative()) p = scenario_file.parent_path() / p;
  return p.lexically_normal();
}

// A kit name ("6.12") selects a built kit; anything else is a directory,
// relative to the scenario file.
fs::path ResolveKit(const YamlValue& v, const fs::path& scenario_file) {
  if (!IsKitName(v.AsString())) return ResolvePath(v, scenario_file);
  try {
    return GuestKit::Find(v.AsString());
  } catch (const Error& e) {
    v.Fail(e.what());
  }
}

}  // namespace

MachineConfig ParseMachine(const std::optional<YamlValue>& v, const fs::path& file) {
  MachineConfig c;
  c.spec.smp = {.cpus = 1, .maxcpus = 4};
  c.spec.cpu_model.clear();
  c.kit = GuestKit::DefaultDir();
  if (v && !v->IsNull()) Read(*v, file, c);
  if (c.spec.cpu_model.empty()) c.spec.cpu_model = DefaultCpuModel(c.spec.smp);
  ApplyMasquerade(c.masquerade, c.spec);
  if (c.spec.kernel.empty() && c.spec.disk.empty()) {
    // A kit that is not built yet is not a scenario error: `cpuhp list` and
    // `validate` work without one, and booting says how to build it.
    try {
      GuestKit::Load(c.kit).ApplyTo(c.spec);
    } catch (const Error&) {
    }
  }
  return c;
}

std::string HotplugCpusWord(const std::optional<int>& hotplug_cpus) {
  if (!hotplug_cpus) return "all";
  return *hotplug_cpus == 0 ? "none" : std::to_string(*hotplug_cpus);
}

std::string HotplugCpusProblem(const MachineConfig& machine, const CpuSet& possible,
                               const CpuSet& present,
                               const std::optional<CpuAllowanceLine>& console) {
  const int maxcpus = machine.spec.smp.MaxCpus();
  const int allowed = static_cast<int>(possible.Size());
  const int takes = std::max(0, allowed - static_cast<int>(present.Size()));
  const int offered = std::max(0, maxcpus - static_cast<int>(present.Size()));
  if (machine.hotplug_cpus ? takes == *machine.hotplug_cpus : allowed >= maxcpus) return "";
  std::string seen = "the guest allows " + std::to_string(allowed) + " of QEMU's " +
                     std::to_string(maxcpus) + " CPUs (possible " + possible.ToString() + "; " +
                     (console ? "kernel: " + QuoteGuestLine(console->text)
                              : std::string("no \"Allowing ... CPUs\" line on the console or "
                                            "in the guest's boot log")) +
                     ")";
  if (machine.hotplug_cpus) {
    return "the scenario expects the guest to take " +
           (*machine.hotplug_cpus == 0 ? std::string("no")
                                       : std::to_string(*machine.hotplug_cpus)) +
           " hot-added CPUs (machine: hotplug_cpus: " + HotplugCpusWord(machine.hotplug_cpus) +
           "), but " + seen + ": it takes " + std::to_string(takes);
  }
  std::string then = takes == 0 ? "it cannot take hot-added CPUs, so every hotplug would be refused"
                                : "it can take only " + std::to_string(takes) + " of QEMU's " +
                                      std::to_string(offered) +
                                      " hot-pluggable CPUs, so the rest would be refused";
  return seen + ": " + then + "; see docs/known-issues.md (a scenario that boots such a guest " +
         "on purpose says machine: {hotplug_cpus: " + HotplugCpusWord(takes) + "})";
}

std::string DefaultCpuModel(const SmpTopology& smp) {
  std::string problem;
  auto topo = ResolveTopology(smp, &problem);
  return topo && topo->threads > 1 ? "max" : "qemu64";
}

namespace {

// numa: {nodes: N, cpus: [{node: 0, socket: 0}, ...]} (docs/scenarios.md).
void ReadNuma(const YamlValue& v, MachineConfig& c) {
  YamlMap m = v.AsMap({"nodes", "cpus"});
  YamlValue nodes = m.Require("nodes");
  c.numa_nodes = nodes.AsInt(1, kMaxNumaNodes);
  std::vector<NumaCpu> cpus;
  if (auto list = m.Get("cpus")) {
    for (const auto& item : list->Items()) {
      YamlMap e = item.AsMap({"node", "socket", "die", "core", "thread"});
      NumaCpu cpu;
      cpu.node = e.Require("node").AsInt(0, c.numa_nodes - 1);
      for (auto [key, member] : {std::pair{"socket", &CpuProps::socket_id},
                                 {"die", &CpuProps::die_id},
                                 {"core", &CpuProps::core_id},
                                 {"thread", &CpuProps::thread_id}}) {
        if (auto x = e.Get(key)) cpu.props.*member = x->AsInt(0, 1023);
      }
      if (cpu.props == CpuProps{}) {
        item.Fail("a NUMA cpu entry needs socket, die, core or thread: the slots it puts in node " +
                  std::to_string(cpu.node));
      }
      cpus.push_back(cpu);
    }
  }
  std::string problem = NumaArgs(c.numa_nodes, cpus, c.spec.memory_mib, &c.spec.extra_args);
  if (!problem.empty()) v.Fail(problem);
}

void Read(const YamlValue& value, const fs::path& file, MachineConfig& c) {
  const YamlValue* v = &value;
  YamlMap m = v->AsMap({"backend", "type", "accel", "cpu", "smp", "memory", "kit", "disk", "kernel",
                        "initrd", "append", "qemu", "extra_args", "boot_timeout", "masquerade", "hotplug_cpus",
                        "boot", "numa", "boot_plugs"});
  if (auto b = m.Get("backend")) {
    c.backend = b->AsEnum({"qemu", "libvirt"});
    if (!BackendBuilt(c.backend)) b->Fail("backend '" + c.backend + "' is not in this build (CPUHP_WITH_LIBVIRT off)");
    c.spec.backend = c.backend;
  }
  if (auto t = m.Get("type")) c.spec.machine_type = t->AsString();
  if (auto a = m.Get("accel")) ParseAccel(a->AsEnum({"auto", "kvm", "tcg"}), &c.spec.accel);
  if (auto cpu = m.Get("cpu")) {
    c.spec.cpu_model = cpu->AsString();
    if (c.spec.cpu_model.empty()) cpu->Fail("the CPU model is empty");
  }
  if (auto smp = m.Get("smp")) {
    SmpTopology t;
    if (smp->IsScalar()) {
      t.cpus = smp->AsInt(1, 1024);
    } else {
      YamlMap s = smp->AsMap({"cpus", "maxcpus", "sockets", "dies", "cores", "threads"});
      if (auto x = s.Get("cpus")) t.cpus = x->AsInt(1, 1024);
      if (auto x = s.Get("maxcpus")) t.maxcpus = x->AsInt(1, 1024);
      if (auto x = s.Get("sockets")) t.sockets = x->AsInt(1, 1024);
      if (auto x = s.Get("dies")) t.dies = x->AsInt(1, 1024);
      if (auto x = s.Get("cores")) t.cores = x->AsInt(1, 1024);
      if (auto x = s.Get("threads")) t.threads = x->AsInt(1, 1024);
    }
    std::string problem;
    if (!ResolveTopology(t, &problem)) smp->Fail("impossible topology: " + problem);
    c.spec.smp = t;
  }
  if (auto mem = m.Get("memory")) c.spec.memory_mib = ParseMemoryMib(*mem);
  if (m.Has("kit") && m.Has("disk")) {
    throw ScenarioError(m.KeyWhere("disk"), v->path() + ": give kit or disk, not both");
  }
  if (auto k = m.Get("kit")) c.kit = ResolveKit(*k, file);
  if (auto d = m.Get("disk")) c.spec.disk = ResolvePath(*d, file);
  if (auto k = m.Get("kernel")) c.spec.kernel = ResolvePath(*k, file);
  if (auto i = m.Get("initrd")) {
    if (!m.Has("kernel")) i->Fail("initrd needs kernel");
    c.spec.initrd = ResolvePath(*i, file);
  }
  if (auto a = m.Get("append")) {
    if (!m.Has("kernel") && !m.Has("kit") && m.Has("disk")) a->Fail("append needs a kernel");
    c.spec.append = a->AsString();
    c.own_append = c.spec.append;
  }
  c.qemu_given = m.Has("qemu");
  c.kernel_given = m.Has("kernel") || m.Has("disk") || m.Has("kit");
  if (auto q = m.Get("qemu")) {
    try {
      c.spec.qemu_binary = ResolveQemuBinary(q->AsString());
    } catch (const Error& e) {
      q->Fail(e.what());
    }
  }
  if (auto e = m.Get("extra_args")) {
    for (const auto& a : e->Items()) c.spec.extra_args.push_back(a.AsString());
  }
  if (auto n = m.Get("numa")) ReadNuma(*n, c);
  if (auto b = m.Get("boot_plugs")) {
    YamlMap p = b->AsMap({"count", "paused", "seed"});
    int room = c.spec.smp.MaxCpus() - c.spec.smp.cpus;
    YamlValue count = p.Require("count");
    c.boot_plugs.count = count.AsInt(1, 1024);
    if (c.boot_plugs.count > room) {
      count.Fail(std::to_string(c.boot_plugs.count) + " is more than the " + std::to_string(room) +
                 " hot-pluggable CPUs of -smp " + c.spec.smp.ToQemuArg());
    }
    if (auto x = p.Get("paused")) c.boot_plugs.paused = x->AsBool();
    if (auto x = p.Get("seed")) c.boot_plugs.seed = static_cast<uint64_t>(x->AsInt(0, 2147483647));
  }
  if (auto b = m.Get("boot_timeout")) c.boot_timeout = b->AsDuration();
  if (auto q = m.Get("masquerade")) c.masquerade = q->AsEnum({"none", "vmware"});
  if (auto b = m.Get("boot")) {
    BootMode mode = BootMode::kSnapshot;
    ParseBootMode(b->AsEnum({"snapshot", "cold"}), &mode);
    c.boot = mode;
  }
  if (auto h = m.Get("hotplug_cpus")) {
    if (h->IsScalar() && h->Scalar() == "all") {
      c.hotplug_cpus.reset();
    } else if (h->IsScalar() && h->Scalar() == "none") {
      c.hotplug_cpus = 0;
    } else if (h->IsScalar() && !h->Scalar().empty() &&
               std::isdigit(static_cast<unsigned char>(h->Scalar()[0]))) {
      int room = c.spec.smp.MaxCpus() - c.spec.smp.cpus;
      c.hotplug_cpus = h->AsInt(0, 1024);
      if (*c.hotplug_cpus > room) {
        h->Fail(std::to_string(*c.hotplug_cpus) + " is more than the " + std::to_string(room) +
                " hot-pluggable CPUs of -smp " + c.spec.smp.ToQemuArg());
      }
    } else {
      h->Fail("expected all, none or a number of CPUs, got " +
              (h->IsScalar() ? QuotedForMessage(h->Scalar()) : h->TypeName()));
    }
  }
}

}  // namespace

}  // namespace cpuhp
