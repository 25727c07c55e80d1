#include "guest/kernel_probe.h"

#include <algorithm>
#include <charconv>

#include "guest/cpu_snapshot.h"
#include "util/error.h"
#include "util/text.h"

namespace cpuhp {
namespace {

// An IRQ's action names in reports: enough to tell virtio0-req.3 from ttyS0.
constexpr size_t kMaxIrqNameBytes = 64;
// IRQs whose three files go to the agent in one pipelined batch: 9
// requests in flight, fewer than a CPU's batch (11, cpu_snapshot.cc). With
// all ~20 IRQs at once (60 requests) qemu-ga 7.2 stopped answering after
// 12-15 of them (docs/known-issues.md).
constexpr size_t kIrqsPerBatch = 3;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

template <typename T>
std::optional<T> Number(std::string_view s) {
  s = Trim(s);
  T v{};
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string Quoted(std::string_view text) {
  return "\"" + TerminalSafe(std::string(text.substr(0, 80))) + "\"";
}

std::optional<CpuSet> ReadCpuList(GuestFiles& files, const std::string& path, const Deadline& d) {
  auto text = files.TryRead(path, d);
  if (!text) return std::nullopt;
  return CpuSet::Parse(*text, path);
}

void ReadTasks(GuestFiles& files, const DeepProbe& probe, DeepView& view, const Deadline& d) {
  if (probe.tasks.size() > kMaxDeepTasks) {
    throw Error("deep probe: " + std::to_string(probe.tasks.size()) + " tasks to watch, at most " +
                std::to_string(kMaxDeepTasks) + " (kMaxDeepTasks)");
  }
  std::vector<std::string> paths;
  for (int64_t pid : probe.tasks) {
    paths.push_back("/proc/" + std::to_string(pid) + "/stat");
    paths.push_back("/proc/" + std::to_string(pid) + "/status");
  }
  files.Prefetch(paths, d);
  for (int64_t pid : probe.tasks) {
    TaskView t;
    t.pid = pid;
    std::string stat_path = "/proc/" + std::to_string(pid) + "/stat";
    std::string status_path = "/proc/" + std::to_string(pid) + "/status";
    auto stat = files.TryRead(stat_path, d);
    auto status = files.TryRead(status_path, d);
    if (stat && status) {
      t.exists = true;
      std::tie(t.state, t.processor) = ParseProcStat(*stat, stat_path);
      t.allowed = ParseCpusAllowed(*status, status_path);
    }
    view.tasks[pid] = t;
  }
}

void ReadIrqs(GuestFiles& files, DeepView& view, const Deadline& d) {
  auto table = files.TryRead("/proc/interrupts", d);
  if (!table) throw ProtocolError("/proc/interrupts: no such file in the guest");
  auto lines = ParseInterruptLines(*table);
  auto paths_of = [](int irq) {
    std::string n = std::to_string(irq);
    return std::vector<std::string>{"/proc/irq/" + n + "/effective_affinity_list",
                                    "/proc/irq/" + n + "/smp_affinity_list",
                                    "/sys/kernel/irq/" + n + "/per_cpu_count"};
  };
  for (size_t first = 0; first < lines.size(); first += kIrqsPerBatch) {
    size_t last = std::min(lines.size(), first + kIrqsPerBatch);
    std::vector<std::string> batch;
    for (size_t i = first; i < last; ++i) {
      auto p = paths_of(lines[i].first);
      batch.insert(batch.end(), p.begin(), p.end());
    }
    files.Prefetch(batch, d);
    for (size_t i = first; i < last; ++i) {
      IrqView v;
      v.irq = lines[i].first;
      v.name = lines[i].second;
      auto p = paths_of(v.irq);
      v.effective = ReadCpuList(files, p[0], d);
      v.affinity = ReadCpuList(files, p[1], d);
      if (auto counts = files.TryRead(p[2], d)) v.per_cpu_count = ParsePerCpuCount(*counts, p[2]);
      view.irqs.push_back(std::move(v));
    }
  }
  view.irqs_read = true;
}

void ReadCpusets(GuestFiles& files, const DeepProbe& probe, DeepView& view, const Deadline& d) {
  if (probe.cgroups.size() > kMaxCgroups) {
    throw Error("deep probe: " + std::to_string(probe.cgroups.size()) + " cgroups, at most " +
                std::to_string(kMaxCgroups) + " (kMaxCgroups)");
  }
  std::vector<std::string> names = {""};
  names.insert(names.end(), probe.cgroups.begin(), probe.cgroups.end());
  std::vector<std::string> paths;
  auto dir = [](const std::string& name) {
    return std::string(kCgroupRoot) + (name.empty() ? "" : "/" + name);
  };
  for (const auto& name : names) {
    paths.push_back(dir(name) + "/cpuset.cpus");
    paths.push_back(dir(name) + "/cpuset.cpus.effective");
  }
  files.Prefetch(paths, d);
  for (const auto& name : names) {
    CgroupView c;
    c.name = name;
    c.cpus = ReadCpuList(files, dir(name) + "/cpuset.cpus", d);
    c.effective = ReadCpuList(files, dir(name) + "/cpuset.cpus.effective", d);
    view.cgroups.push_back(std::move(c));
  }
  view.cpusets_read = true;
}

void ReadSmt(GuestFiles& files, DeepView& view, const Deadline& d) {
  std::string base = std::string(kSysCpu) + "/smt/";
  files.Prefetch({base + "control", base + "active"}, d);
  if (auto control = files.TryRead(base + "control", d)) {
    view.smt_control = TerminalSafe(std::string(Trim(*control).substr(0, 32)));
  }
  if (auto active = files.TryRead(base + "active", d)) {
    auto v = Number<int>(*active);
    if (!v) throw ProtocolError(base + "active: expected 0 or 1, got " + Quoted(*active));
    view.smt_active = *v != 0;
  }
  view.smt_read = true;
}

}  // namespace

bool DeepProbe::Enable(std::string_view name) {
  if (name == "irqs") {
    irqs = true;
  } else if (name == "cpusets") {
    cpusets = true;
  } else if (name == "smt") {
    smt = true;
  } else if (name == "tasks") {  // the pids are the caller's to add
    watch_tasks = true;
  } else {
    return false;
  }
  return true;
}

std::pair<char, int> ParseProcStat(std::string_view text, std::string_view source) {
  size_t close = text.rfind(')');
  if (close == std::string_view::npos) {
    throw ProtocolError(std::string(source) + ": no ')' after the command: " + Quoted(text));
  }
  // Field 3 (state) is the first after ')'; field 39 (processor) the 37th.
  std::string_view rest = text.substr(close + 1);
  char state = '?';
  std::optional<int> processor;
  int field = 2;
  size_t pos = 0;
  while (pos < rest.size() && field < 39) {
    while (pos < rest.size() && rest[pos] == ' ') ++pos;
    size_t end = rest.find(' ', pos);
    if (end == std::string_view::npos) end = rest.size();
    std::string_view token = rest.substr(pos, end - pos);
    if (token.empty()) break;
    ++field;
    if (field == 3) state = token[0];
    if (field == 39) processor = Number<int>(token);
    pos = end;
  }
  if (state == '?' || !processor) {
    throw ProtocolError(std::string(source) + ": expected state (field 3) and processor (field 39): " +
                        Quoted(text));
  }
  return {state, *processor};
}

CpuSet ParseCpusAllowed(std::string_view text, std::string_view source) {
  constexpr std::string_view kKey = "Cpus_allowed_list:";
  size_t at = text.find(kKey);
  if (at == std::string_view::npos || (at != 0 && text[at - 1] != '\n')) {
    throw ProtocolError(std::string(source) + ": no Cpus_allowed_list line");
  }
  std::string_view value = text.substr(at + kKey.size());
  value = value.substr(0, value.find('\n'));
  return CpuSet::Parse(Trim(value), source);
}

std::vector<std::pair<int, std::string>> ParseInterruptLines(std::string_view text) {
  std::vector<std::pair<int, std::string>> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    // Only numbered lines are IRQs; NMI, LOC, ... are per-CPU vectors.
    auto irq = Number<int>(line.substr(0, colon));
    if (!irq || *irq < 0) continue;
    if (out.size() == kMaxIrqs) {
      throw ProtocolError("/proc/interrupts: more than " + std::to_string(kMaxIrqs) +
                          " IRQ lines (kMaxIrqs)");
    }
    std::string_view name = Trim(line);
    size_t last_space = name.find_last_of(" \t");
    name = last_space == std::string_view::npos ? std::string_view() : name.substr(last_space + 1);
    out.emplace_back(*irq, TerminalSafe(std::string(name.substr(0, kMaxIrqNameBytes))));
  }
  return out;
}

std::vector<uint64_t> ParsePerCpuCount(std::string_view text, std::string_view source) {
  std::vector<uint64_t> out;
  text = Trim(text);
  if (text.empty()) return out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    auto v = Number<uint64_t>(text.substr(pos, comma - pos));
    if (!v) throw ProtocolError(std::string(source) + ": expected comma-separated counts: " + Quoted(text));
    if (out.size() == kMaxPerCpuCounts) {
      throw ProtocolError(std::string(source) + ": more than " + std::to_string(kMaxPerCpuCounts) +
                          " counts (kMaxPerCpuCounts)");
    }
    out.push_back(*v);
    pos = comma + 1;
  }
  return out;
}

DeepView ReadDeepView(GuestFiles& files, const DeepProbe& probe, const Deadline& deadline) {
  DeepView view;
  if (!probe.tasks.empty()) ReadTasks(files, probe, view, deadline);
  if (probe.irqs) ReadIrqs(files, view, deadline);
  if (probe.cpusets) ReadCpusets(files, probe, view, deadline);
  if (probe.smt) ReadSmt(files, view, deadline);
  return view;
}

nlohmann::json ToJson(const DeepView& v) {
  auto set = [](const std::optional<CpuSet>& s) -> nlohmann::json {
    if (s) return s->ToString();
    return nullptr;
  };
  nlohmann::json tasks = nlohmann::json::array();
  for (const auto& [pid, t] : v.tasks) {
    tasks.push_back({{"pid", pid},
                     {"exists", t.exists},
                     {"state", std::string(1, t.state)},
                     {"processor", t.processor},
                     {"allowed", t.allowed.ToString()}});
  }
  nlohmann::json irqs = nlohmann::json::array();
  for (const auto& i : v.irqs) {
    irqs.push_back({{"irq", i.irq},
                    {"name", i.name},
                    {"effective", set(i.effective)},
                    {"affinity", set(i.affinity)},
                    {"per_cpu_count", i.per_cpu_count}});
  }
  nlohmann::json cgroups = nlohmann::json::array();
  for (const auto& c : v.cgroups) {
    cgroups.push_back({{"name", c.name}, {"cpus", set(c.cpus)}, {"effective", set(c.effective)}});
  }
  nlohmann::json out = {{"tasks", tasks}};
  if (v.irqs_read) out["irqs"] = irqs;
  if (v.cpusets_read) out["cgroups"] = cgroups;
  if (v.smt_read) {
    out["smt_control"] = v.smt_control ? nlohmann::json(*v.smt_control) : nlohmann::json(nullptr);
    out["smt_active"] = v.smt_active ? nlohmann::json(*v.smt_active) : nlohmann::json(nullptr);
  }
  return out;
}

}  // namespace cpuhp
