#include "guest/cpu_snapshot.h"

#include <algorithm>
#include <charconv>
#include <sstream>

#include "util/log.h"
#include "util/text.h"

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

std::string TrimNewline(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

std::optional<int> ReadInt(GuestFiles& files, const std::string& path, const Deadline& d) {
  auto text = files.TryRead(path, d);
  if (!text) return std::nullopt;
  auto v = ParseInt(*text);
  if (!v) throw ProtocolError(path + ": expected a number, got \"" + TrimNewline(*text) + "\"");
  return v;
}

std::string ReadRequired(GuestFiles& files, const std::string& path, const Deadline& d) {
  auto text = files.TryRead(path, d);
  if (!text) throw ProtocolError(path + ": no such file in the guest");
  return *text;
}

CpuSet ReadMask(GuestFiles& files, std::string_view leaf, const Deadline& d) {
  std::string path = std::string(kSysCpu) + "/" + std::string(leaf);
  return CpuSet::Parse(ReadRequired(files, path, d), path);
}

// A cpuN directory changed between two reads of it (files that come and go
// together were found half there): read it again from the start.
struct CpuChanged {
  std::string what;
};

// What one snapshot learns once and reuses for every CPU, to save round trips.
struct ProbeHints {
  // Whether cpuN/hotplug/fail exists (fault injection; present in 6.1 also
  // without CONFIG_CPU_HOTPLUG_STATE_CONTROL): the
  // same for every CPU that has a hotplug/ directory.
  std::optional<bool> has_fail_file;
};

// nullopt when the cpuN directory does not exist (any more). Files are read
// only where they can exist: topology/ only for a CPU that is not offline,
// hotplug/target and hotplug/fail only next to a hotplug/state.
// Every file ReadCpu() may read for cpu `id`, fetched in one batch.
std::vector<std::string> CpuFiles(int id) {
  std::vector<std::string> paths;
  for (const char* leaf : {"online", "uevent", "firmware_node/path", "hotplug/state", "hotplug/target",
                           "hotplug/fail", "topology/physical_package_id", "topology/die_id",
                           "topology/core_id", "topology/thread_siblings_list",
                           "topology/core_cpus_list"}) {
    paths.push_back(CpuPath(id, leaf));
  }
  return paths;
}

std::optional<GuestCpu> ReadCpu(GuestFiles& files, int id, ProbeHints& hints, const Deadline& d) {
  GuestCpu cpu;
  cpu.id = id;
  if (auto online = ReadInt(files, CpuPath(id, "online"), d)) {
    cpu.online = *online != 0;
  } else if (!files.TryRead(CpuPath(id, "uevent"), d)) {
    // `uevent` exists for every registered device: no `online` and no
    // `uevent` means no directory, not a non-removable CPU.
    return std::nullopt;
  }
  if (auto path = files.TryRead(CpuPath(id, "firmware_node/path"), d)) {
    cpu.firmware_node = TrimNewline(*path);
  }
  cpu.hotplug_state = ReadInt(files, CpuPath(id, "hotplug/state"), d);
  if (cpu.hotplug_state) {
    cpu.hotplug_target = ReadInt(files, CpuPath(id, "hotplug/target"), d);
    if (!cpu.hotplug_target) throw CpuChanged{"hotplug/target vanished"};
    if (hints.has_fail_file.value_or(true)) {
      cpu.hotplug_fail = ReadInt(files, CpuPath(id, "hotplug/fail"), d);
      hints.has_fail_file = cpu.hotplug_fail.has_value();
    }
  }
  if (cpu.online.value_or(true)) {
    if (auto package = ReadInt(files, CpuPath(id, "topology/physical_package_id"), d)) {
      CpuTopology t;
      t.physical_package_id = *package;
      auto die = ReadInt(files, CpuPath(id, "topology/die_id"), d);
      auto core = ReadInt(files, CpuPath(id, "topology/core_id"), d);
      std::string siblings = CpuPath(id, "topology/thread_siblings_list");
      auto siblings_text = files.TryRead(siblings, d);
      std::string core_cpus = CpuPath(id, "topology/core_cpus_list");
      auto core_cpus_text = files.TryRead(core_cpus, d);
      if (!core || !siblings_text || !core_cpus_text) throw CpuChanged{"topology/ vanished"};
      // die_id is absent on architectures without dies; x86 always has it.
      t.die_id = die.value_or(-1);
      t.core_id = *core;
      t.thread_siblings = CpuSet::Parse(*siblings_text, siblings);
      t.core_cpus = CpuSet::Parse(*core_cpus_text, core_cpus);
      cpu.topology = t;
    }
  }
  return cpu;
}

// qemu-ga fails guest-get-vcpus as a whole when a cpuN directory it listed
// is gone before it opens it (an unplug racing the command): ask again.
std::vector<GuestVcpu> ReadVcpus(GuestFiles& files, const Deadline& d) {
  constexpr int kAttempts = 3;
  for (int attempt = 1;; ++attempt) {
    try {
      auto vcpus = files.GetVcpus(d);
      std::sort(vcpus.begin(), vcpus.end(),
                [](const auto& a, const auto& b) { return a.logical_id < b.logical_id; });
      return vcpus;
    } catch (const AgentError& e) {
      if (attempt == kAttempts) throw;
      LOG(kDebug, "probe") << "guest-get-vcpus failed, retrying: " << e.desc();
    }
  }
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
      out.push_back({*value, std::nullopt, ""});
    } else if (key == "apicid" && value && !out.empty()) {
      out.back().apic_id = value;
    } else if (key == "vendor_id" && !out.empty()) {
      std::string vendor = line.substr(colon + 1);
      size_t start = vendor.find_first_not_of(" \t");
      vendor = start == std::string::npos ? "" : vendor.substr(start);
      while (!vendor.empty() && (vendor.back() == ' ' || vendor.back() == '\r')) vendor.pop_back();
      out.back().vendor = vendor;
    }
  }
  return out;
}

CpuSet ParseOfflineMask(std::string_view text, std::string_view source) {
  size_t first = text.find_first_not_of(" \t\n");
  if (first != std::string_view::npos && text[first] == ',') text.remove_prefix(first + 1);
  return CpuSet::Parse(text, source);
}

std::optional<std::string> AgentGuestFiles::TryRead(const std::string& path,
                                                    const Deadline& deadline) {
  if (auto it = prefetched_.find(path); it != prefetched_.end()) {
    auto content = std::move(it->second);
    prefetched_.erase(it);
    return content;
  }
  return agent_.TryReadFile(path, deadline);
}

void AgentGuestFiles::Prefetch(const std::vector<std::string>& paths, const Deadline& deadline) {
  prefetched_.clear();
  auto contents = agent_.TryReadFiles(paths, deadline);
  for (size_t i = 0; i < paths.size(); ++i) prefetched_[paths[i]] = std::move(contents[i]);
}

std::vector<GuestVcpu> AgentGuestFiles::GetVcpus(const Deadline& deadline) {
  return agent_.GetVcpus(deadline);
}

namespace {

// node_cpus and each CPU's node_links, when the guest has several nodes.
void ReadNumaNodes(GuestFiles& files, GuestSnapshot& s, const Deadline& deadline) {
  const std::string possible_path = std::string(kSysNode) + "/possible";
  std::optional<std::string> possible_text = files.TryRead(possible_path, deadline);
  if (!possible_text) return;
  CpuSet nodes = CpuSet::Parse(*possible_text, possible_path);
  if (nodes.Size() <= 1) return;
  if (nodes.Size() > static_cast<size_t>(kMaxProbedNodes)) {
    throw ProtocolError(possible_path + " lists " + std::to_string(nodes.Size()) +
                        " nodes; the probe reads at most " + std::to_string(kMaxProbedNodes));
  }
  std::vector<std::string> paths;
  for (int node : nodes) paths.push_back(std::string(kSysNode) + "/node" + std::to_string(node) + "/cpulist");
  for (int id : s.probed) {
    for (int node : nodes) {
      paths.push_back(std::string(kSysCpu) + "/cpu" + std::to_string(id) + "/node" +
                      std::to_string(node) + "/cpulist");
    }
  }
  files.Prefetch(paths, deadline);
  size_t i = 0;
  for (int node : nodes) {
    if (auto text = files.TryRead(paths[i], deadline)) s.node_cpus[node] = CpuSet::Parse(*text, paths[i]);
    ++i;
  }
  for (int id : s.probed) {
    for (int node : nodes) {
      // Through the link: it exists exactly when the file behind it can be read.
      bool linked = files.TryRead(paths[i], deadline).has_value();
      auto it = s.cpus.find(id);
      if (linked && it != s.cpus.end()) it->second.node_links.Insert(node);
      ++i;
    }
  }
}

}  // namespace

GuestSnapshot ReadGuestSnapshot(AgentLink& agent, const Deadline& deadline,
                                const DeepProbe& probe) {
  AgentGuestFiles files(agent);
  return ReadGuestSnapshot(files, deadline, probe);
}

GuestSnapshot ReadGuestSnapshot(GuestFiles& files, const Deadline& deadline,
                                const DeepProbe& probe) {
  GuestSnapshot s;
  // The agent's listing comes first: it names the cpuN directories to probe
  // (the agent API cannot list a directory, qemu-ga's guest-get-vcpus does).
  s.agent_vcpus = ReadVcpus(files, deadline);
  {
    std::vector<std::string> top;
    for (const char* leaf : {"possible", "present", "online", "offline", "kernel_max", "hotplug/states"}) {
      top.push_back(std::string(kSysCpu) + "/" + leaf);
    }
    files.Prefetch(top, deadline);
  }
  s.possible = ReadMask(files, "possible", deadline);
  s.present = ReadMask(files, "present", deadline);
  s.online = ReadMask(files, "online", deadline);
  std::string offline = std::string(kSysCpu) + "/offline";
  s.offline = ParseOfflineMask(ReadRequired(files, offline, deadline), offline);
  s.kernel_max = ReadInt(files, std::string(kSysCpu) + "/kernel_max", deadline).value_or(-1);
  s.states =
      ParseHotplugStates(ReadRequired(files, std::string(kSysCpu) + "/hotplug/states", deadline));
  // Not every possible CPU: `possible` can be 0-8191 while four exist.
  s.probed = s.present.Union(s.online);
  for (const auto& v : s.agent_vcpus) s.probed.Insert(v.logical_id);
  ProbeHints hints;
  for (int id : s.probed) {
    // A CPU being unplugged can lose files between two reads: try it again
    // from the start, and take a vanished directory as the answer.
    constexpr int kAttempts = 3;
    for (int attempt = 1; attempt <= kAttempts; ++attempt) {
      try {
        files.Prefetch(CpuFiles(id), deadline);
        if (auto cpu = ReadCpu(files, id, hints, deadline)) s.cpus[id] = std::move(*cpu);
        break;
      } catch (const AgentError& e) {
        if (attempt == kAttempts) throw;
        LOG(kDebug, "probe") << "cpu" << id << " changed while read, retrying: " << e.desc();
      } catch (const CpuChanged& e) {
        if (attempt == kAttempts) {
          throw ProtocolError("cpu" + std::to_string(id) + " kept changing while read (" + e.what +
                              ", " + std::to_string(kAttempts) + " attempts)");
        }
        LOG(kDebug, "probe") << "cpu" << id << " changed while read, retrying: " << e.what;
      }
    }
  }
  ReadNumaNodes(files, s, deadline);
  auto cpuinfo = ParseCpuinfo(ReadRequired(files, "/proc/cpuinfo", deadline));
  s.cpuinfo_processors = static_cast<int>(cpuinfo.size());
  if (!cpuinfo.empty()) s.cpu_vendor = cpuinfo.front().vendor;
  for (const auto& entry : cpuinfo) {
    auto it = s.cpus.find(entry.processor);
    if (it != s.cpus.end()) it->second.apic_id = entry.apic_id;
  }
  if (probe.Any()) s.deep = ReadDeepView(files, probe, deadline);
  return s;
}

static nlohmann::json NodeCpusJson(const std::map<int, CpuSet>& nodes) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [node, cpus] : nodes) out[std::to_string(node)] = cpus.ToString();
  return out;
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
                        {"firmware_node", opt(c.firmware_node)},
                        {"hotplug_state", opt(c.hotplug_state)},
                        {"hotplug_target", opt(c.hotplug_target)},
                        {"hotplug_fail", opt(c.hotplug_fail)}};
    if (!c.node_links.Empty()) j["node_links"] = c.node_links.ToString();
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
    vcpus.push_back(
        {{"logical-id", v.logical_id}, {"online", v.online}, {"can-offline", v.can_offline}});
  }
  nlohmann::json out = {{"possible", s.possible.ToString()},
          {"present", s.present.ToString()},
          {"online", s.online.ToString()},
          {"offline", s.offline.ToString()},
          {"kernel_max", s.kernel_max},
          {"cpus", cpus},
          {"probed", s.probed.ToString()},
          {"cpu_vendor", s.cpu_vendor},
          {"hotplug_states", states},
          {"cpuinfo_processors", s.cpuinfo_processors},
          {"agent_vcpus", vcpus}};
  if (s.deep) out["deep"] = ToJson(*s.deep);
  if (!s.node_cpus.empty()) out["node_cpus"] = NodeCpusJson(s.node_cpus);
  return out;
}

std::string ReadGuestKernelRelease(AgentLink& agent) {
  std::string text = agent.TryReadFile("/proc/sys/kernel/osrelease").value_or("");
  text = text.substr(0, std::min(text.find('\n'), size_t{64}));
  return TerminalSafe(text);
}

}  // namespace cpuhp
