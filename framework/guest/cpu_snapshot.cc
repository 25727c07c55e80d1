#include "guest/cpu_snapshot.h"

#include <charconv>
#include <sstream>

#include "util/log.h"

namespace cpuhp {
namespace {

std::string CpuPath(int cpu, std::string_view leaf) {
  return std::string(kSysCpu) + "/cpu" + std::to_string(cpu) + "/" + std::string(leaf);
}

std::optional<int> ParseInt(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  int v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<int> ReadInt(AgentClient& agent, const std::string& path, const Deadline& d) {
  auto text = agent.TryReadFile(path, d);
  if (!text) return std::nullopt;
  auto v = ParseInt(*text);
  if (!v) throw ProtocolError(path + ": expected a number, got \"" + *text + "\"");
  return v;
}

CpuSet ReadMask(AgentClient& agent, std::string_view leaf, const Deadline& d) {
  std::string path = std::string(kSysCpu) + "/" + std::string(leaf);
  return CpuSet::Parse(agent.ReadFile(path, d), path);
}

// nullopt when the cpuN directory does not exist (any more).
std::optional<GuestCpu> ReadCpu(AgentClient& agent, int id, const Deadline& d) {
  // `uevent` exists for every registered device: it tells a missing
  // directory apart from a missing `online` file.
  if (!agent.TryReadFile(CpuPath(id, "uevent"), d)) return std::nullopt;
  GuestCpu cpu;
  cpu.id = id;
  if (auto online = ReadInt(agent, CpuPath(id, "online"), d)) cpu.online = *online != 0;
  cpu.hotplug_state = ReadInt(agent, CpuPath(id, "hotplug/state"), d);
  cpu.hotplug_target = ReadInt(agent, CpuPath(id, "hotplug/target"), d);
  cpu.hotplug_fail = ReadInt(agent, CpuPath(id, "hotplug/fail"), d);
  if (auto package = ReadInt(agent, CpuPath(id, "topology/physical_package_id"), d)) {
    CpuTopology t;
    t.physical_package_id = *package;
    t.die_id = ReadInt(agent, CpuPath(id, "topology/die_id"), d).value_or(-1);
    t.core_id = ReadInt(agent, CpuPath(id, "topology/core_id"), d).value_or(-1);
    std::string siblings = CpuPath(id, "topology/thread_siblings_list");
    if (auto text = agent.TryReadFile(siblings, d)) t.thread_siblings = CpuSet::Parse(*text, siblings);
    std::string core_cpus = CpuPath(id, "topology/core_cpus_list");
    if (auto text = agent.TryReadFile(core_cpus, d)) t.core_cpus = CpuSet::Parse(*text, core_cpus);
    cpu.topology = t;
  }
  return cpu;
}

}  // namespace

std::optional<int> GuestSnapshot::StateNumber(std::string_view name) const {
  for (const auto& s : states) {
    if (s.name == name) return s.number;
  }
  return std::nullopt;
}

std::string GuestSnapshot::StateName(int number) const {
  for (const auto& s : states) {
    if (s.number == number) return s.name;
  }
  return "?";
}

const GuestCpu* GuestSnapshot::Cpu(int id) const {
  auto it = cpus.find(id);
  return it == cpus.end() ? nullptr : &it->second;
}

std::vector<HotplugState> ParseHotplugStates(std::string_view text) {
  std::vector<HotplugState> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    size_t colon = line.find(':');
    auto number = colon == std::string::npos ? std::nullopt : ParseInt(line.substr(0, colon));
    if (!number) throw ProtocolError("hotplug/states: bad line \"" + line + "\"");
    std::string name = line.substr(colon + 1);
    size_t start = name.find_first_not_of(' ');
    name = start == std::string::npos ? "" : name.substr(start);
    while (!name.empty() && (name.back() == '\r' || name.back() == ' ')) name.pop_back();
    out.push_back({*number, name});
  }
  return out;
}

std::vector<CpuinfoEntry> ParseCpuinfo(std::string_view text) {
  std::vector<CpuinfoEntry> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string key = line.substr(0, colon);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) key.pop_back();
    auto value = ParseInt(line.substr(colon + 1));
    if (key == "processor" && value) {
      out.push_back({*value, std::nullopt});
    } else if (key == "apicid" && value && !out.empty()) {
      out.back().apic_id = value;
    }
  }
  return out;
}

GuestSnapshot ReadGuestSnapshot(AgentClient& agent, const Deadline& deadline) {
  GuestSnapshot s;
  s.possible = ReadMask(agent, "possible", deadline);
  s.present = ReadMask(agent, "present", deadline);
  s.online = ReadMask(agent, "online", deadline);
  s.offline = ReadMask(agent, "offline", deadline);
  s.kernel_max = ReadInt(agent, std::string(kSysCpu) + "/kernel_max", deadline).value_or(-1);
  s.states = ParseHotplugStates(agent.ReadFile(std::string(kSysCpu) + "/hotplug/states", deadline));
  for (int id : s.possible) {
    // A CPU being unplugged can lose files between two reads: try it again
    // from the start, and take a vanished directory as the answer.
    constexpr int kAttempts = 3;
    for (int attempt = 1; attempt <= kAttempts; ++attempt) {
      try {
        if (auto cpu = ReadCpu(agent, id, deadline)) s.cpus[id] = std::move(*cpu);
        break;
      } catch (const AgentError& e) {
        if (attempt == kAttempts) throw;
        LOG(kDebug, "probe") << "cpu" << id << " changed while read, retrying: " << e.desc();
      }
    }
  }
  auto cpuinfo = ParseCpuinfo(agent.ReadFile("/proc/cpuinfo", deadline));
  s.cpuinfo_processors = static_cast<int>(cpuinfo.size());
  for (const auto& entry : cpuinfo) {
    auto it = s.cpus.find(entry.processor);
    if (it != s.cpus.end()) it->second.apic_id = entry.apic_id;
  }
  s.agent_vcpus = agent.GetVcpus(deadline);
  return s;
}

nlohmann::json ToJson(const GuestSnapshot& s) {
  auto opt = [](const auto& v) -> nlohmann::json {
    if (v) return *v;
    return nullptr;
  };
  nlohmann::json cpus = nlohmann::json::array();
  for (const auto& [id, c] : s.cpus) {
    nlohmann::json j = {{"id", id},
                        {"online", opt(c.online)},
                        {"apic_id", opt(c.apic_id)},
                        {"hotplug_state", opt(c.hotplug_state)},
                        {"hotplug_target", opt(c.hotplug_target)},
                        {"hotplug_fail", opt(c.hotplug_fail)}};
    if (c.topology) {
      j["topology"] = {{"physical_package_id", c.topology->physical_package_id},
                       {"die_id", c.topology->die_id},
                       {"core_id", c.topology->core_id},
                       {"thread_siblings_list", c.topology->thread_siblings.ToString()},
                       {"core_cpus_list", c.topology->core_cpus.ToString()}};
    } else {
      j["topology"] = nullptr;
    }
    cpus.push_back(j);
  }
  nlohmann::json states = nlohmann::json::array();
  for (const auto& st : s.states) states.push_back({{"number", st.number}, {"name", st.name}});
  nlohmann::json vcpus = nlohmann::json::array();
  for (const auto& v : s.agent_vcpus) {
    vcpus.push_back({{"logical-id", v.logical_id}, {"online", v.online}, {"can-offline", v.can_offline}});
  }
  return {{"possible", s.possible.ToString()}, {"present", s.present.ToString()},
          {"online", s.online.ToString()},     {"offline", s.offline.ToString()},
          {"kernel_max", s.kernel_max},        {"cpus", cpus},
          {"hotplug_states", states},          {"cpuinfo_processors", s.cpuinfo_processors},
          {"agent_vcpus", vcpus}};
}

}  // namespace cpuhp
