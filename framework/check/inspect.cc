#include "check/inspect.h"

#include <algorithm>
#include <cstdio>

#include "check/cpu_mapping.h"
#include "util/fd.h"

namespace cpuhp {
namespace {

// Columns padded to their widest cell; a lone "|" column separates the sides.
class Table {
 public:
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string Render() const {
    std::vector<size_t> width;
    for (const auto& row : rows_) {
      width.resize(std::max(width.size(), row.size()));
      for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    }
    std::string out;
    for (const auto& row : rows_) {
      std::string line;
      for (size_t i = 0; i < row.size(); ++i) {
        line += row[i];
        if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
      }
      while (!line.empty() && line.back() == ' ') line.pop_back();
      out += line + "\n";
    }
    return out;
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string OrDash(const std::optional<int>& v) { return v ? std::to_string(*v) : "-"; }

std::string StateCell(const GuestSnapshot& g, const GuestCpu& cpu) {
  if (!cpu.hotplug_state) return "n/a";
  auto text = [&](int n) { return std::to_string(n) + " " + g.StateName(n); };
  if (!cpu.hotplug_target || *cpu.hotplug_target == *cpu.hotplug_state) {
    return text(*cpu.hotplug_state);
  }
  return text(*cpu.hotplug_state) + " -> " + text(*cpu.hotplug_target);
}

std::vector<std::string> GuestCells(const GuestSnapshot& g, int id) {
  const GuestCpu& cpu = g.cpus.at(id);
  std::string online =
      cpu.online ? (*cpu.online ? "yes" : "no") : (g.online.Contains(id) ? "fixed" : "fixed?");
  std::string topology = "-", siblings = "-";
  if (cpu.topology) {
    topology = std::to_string(cpu.topology->physical_package_id) + "/" +
               std::to_string(cpu.topology->die_id) + "/" + std::to_string(cpu.topology->core_id);
    siblings = cpu.topology->thread_siblings.ToString();
  }
  std::string acpi = "-";
  if (cpu.firmware_node) {
    auto index = AcpiCpuIndex(*cpu.firmware_node);
    acpi = index ? cpu.firmware_node->substr(cpu.firmware_node->rfind('.') + 1) : "?";
  }
  return {"cpu" + std::to_string(id),
          online,
          StateCell(g, cpu),
          OrDash(cpu.apic_id),
          topology,
          siblings,
          acpi};
}

std::vector<std::string> SlotCells(const SlotInfo& s) {
  const CpuProps& p = s.slot.props;
  std::string where = OrDash(p.socket_id) + "/" + OrDash(p.die_id) + "/" + OrDash(p.core_id) + "/" +
                      OrDash(p.thread_id);
  return {where, std::to_string(s.apic_id), OrDash(s.cpu_index),
          s.slot.qom_path ? *s.slot.qom_path : "(free)"};
}

const std::vector<std::string> kNoGuest = {"-", "", "", "", "", "", ""};

std::string SmpText(const SmpTopology& smp) {
  return "-smp " + std::to_string(smp.cpus) + ",maxcpus=" + std::to_string(smp.MaxCpus()) +
         ",sockets=" + std::to_string(smp.sockets) + ",dies=" + std::to_string(smp.dies) +
         ",cores=" + std::to_string(smp.cores) + ",threads=" + std::to_string(smp.threads);
}

}  // namespace

Inspection Inspect(QmpLink& qmp, AgentLink& agent, const CheckOptions& options,
                   const Deadline& deadline) {
  Inspection in;
  in.host = ReadHostView(qmp);
  auto start = Clock::now();
  in.guest = ReadGuestSnapshot(agent, deadline);
  in.snapshot_time = Clock::now() - start;
  in.result = RunChecks(in.host, in.guest, options);
  return in;
}

Inspection InspectRunningVm(const std::filesystem::path& qmp_socket,
                            const std::filesystem::path& qga_socket, const CheckOptions& options,
                            Clock::duration timeout) {
  Deadline deadline = Deadline::After(timeout);
  QmpClient qmp(ConnectUnix(qmp_socket), "qmp", nullptr);
  qmp.Handshake(deadline);
  AgentClient agent(ConnectUnix(qga_socket), "qga", nullptr);
  agent.Sync(deadline);
  return Inspect(qmp, agent, options, Deadline::After(timeout * 4));
}

std::string FormatInspection(const Inspection& in) {
  const HostView& h = in.host;
  const GuestSnapshot& g = in.guest;
  CpuMapping m = MapCpus(h, g);
  std::string out;
  int plugged = static_cast<int>(
      std::count_if(h.slots.begin(), h.slots.end(), [](const auto& s) { return s.plugged(); }));
  out += "QEMU:  " + std::to_string(h.slots.size()) + " CPU slots, " + std::to_string(plugged) +
         " plugged; query-cpus-fast: " + std::to_string(h.cpus.size()) + " vCPUs";
  if (h.smp) out += "; " + SmpText(*h.smp);
  out += "\n";
  CpuSet agent_online;
  for (const auto& v : g.agent_vcpus) {
    if (v.online) agent_online.Insert(v.logical_id);
  }
  out += "guest: possible " + g.possible.ToString() + ", present " + g.present.ToString() +
         ", online " + g.online.ToString() + ", offline " + g.offline.ToString() + ", kernel_max " +
         std::to_string(g.kernel_max) + "\n";
  out += "       " + (g.cpu_vendor.empty() ? std::string("vendor unknown") : g.cpu_vendor) +
         "; /proc/cpuinfo: " + std::to_string(g.cpuinfo_processors) +
         " processors; guest-get-vcpus online: " + agent_online.ToString() +
         "; hotplug/states: " + std::to_string(g.states.size()) + " entries\n";
  char took[64];
  std::snprintf(took, sizeof took, "%.2f s", ToSeconds(in.snapshot_time));
  out += "       (guest snapshot read in " + std::string(took) + ")\n\n";

  Table t;
  t.Add({"GUEST", "ONLINE", "HOTPLUG STATE", "APIC", "PKG/DIE/CORE", "SIBLINGS", "ACPI", "|",
         "SLOT S/D/C/T", "APIC", "CPU-INDEX", "QOM-PATH"});
  auto add = [&](std::vector<std::string> guest, const std::vector<std::string>& slot) {
    guest.push_back("|");
    guest.insert(guest.end(), slot.begin(), slot.end());
    t.Add(std::move(guest));
  };
  for (size_t i = 0; i < m.slots.size(); ++i) {
    auto guests = m.GuestCpusOf(i);
    if (guests.empty()) add(kNoGuest, SlotCells(m.slots[i]));
    for (int id : guests) add(GuestCells(g, id), SlotCells(m.slots[i]));
  }
  for (const auto& [id, match] : m.guests) {
    if (!match.slot()) add(GuestCells(g, id), {"(no slot)"});
  }
  out += t.Render();

  const CheckResult& r = in.result;
  out += "\nverdict: ";
  out += r.Passed() ? "CONSISTENT (" + r.Summary() + ")\n"
                    : "INCONSISTENT (" + std::to_string(r.Failures().size()) + " of " +
                          std::to_string(r.invariants.size()) + " invariants fail)\n";
  for (const auto& inv : r.invariants) {
    out += inv.verdict == Verdict::kPass ? "  pass  " : "  FAIL  ";
    out += inv.name;
    for (const auto& f : inv.findings) out += "\n          " + f.Text();
    if (!inv.note.empty()) out += "\n          note: " + inv.note;
    out += "\n";
  }
  return out;
}

nlohmann::json ToJson(const Inspection& in) {
  return {{"host", ToJson(in.host)},
          {"guest", ToJson(in.guest)},
          {"mapping", ToJson(MapCpus(in.host, in.guest))},
          {"check", in.result.ToJson()},
          {"snapshot_seconds", ToSeconds(in.snapshot_time)}};
}

}  // namespace cpuhp
