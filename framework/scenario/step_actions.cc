#include "scenario/step_actions.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <set>
#include <thread>
#include <utility>

#include "check/checker.h"
#include "check/lifecycle.h"
#include "report/artifacts.h"
#include "scenario/topology.h"
#include "util/log.h"
#include "util/text.h"
#include "util/wait.h"
#include "vm/migration.h"
#include "vm/serial_log.h"

namespace cpuhp {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool SameSlot(const CpuProps& a, const CpuProps& b) {
  return a.socket_id == b.socket_id && a.die_id == b.die_id && a.core_id == b.core_id &&
         a.thread_id == b.thread_id;
}

std::string Lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Leaves `detail` in ctx.failed_detail when the action that fills it throws,
// so that the step's record says what was done before the failure.
class KeepDetailOnThrow {
 public:
  KeepDetailOnThrow(StepContext& ctx, json& detail)
      : ctx_(ctx), detail_(detail), uncaught_(std::uncaught_exceptions()) {}
  ~KeepDetailOnThrow() {
    if (std::uncaught_exceptions() > uncaught_) ctx_.failed_detail = std::move(detail_);
  }
  KeepDetailOnThrow(const KeepDetailOnThrow&) = delete;
  KeepDetailOnThrow& operator=(const KeepDetailOnThrow&) = delete;

 private:
  StepContext& ctx_;
  json& detail_;
  int uncaught_;
};

// The guest's CPU numbers, as guest-get-vcpus lists them (present CPUs).
std::set<int> GuestCpuIds(Vm& vm, const Deadline& deadline) {
  std::set<int> ids;
  for (const auto& v : vm.Agent().GetVcpus(deadline)) ids.insert(v.logical_id);
  return ids;
}

json Hotplug(StepContext& ctx, const HotplugStep& h, const Deadline& deadline) {
  json detail = json::object();
  KeepDetailOnThrow keep(ctx, detail);
  Vm& vm = *ctx.vm;
  HotplugDriver& hp = vm.Hotplug();
  std::set<int> before;
  if (h.online) before = GuestCpuIds(vm, deadline);
  json plugged = json::array();
  if (h.props) {
    auto slots = hp.Slots();
    if (slots.empty()) throw StepFailed(FailureKind::kExpectation, "QEMU offers no hotpluggable CPU slots");
    std::string id = h.id.value_or(SlotDeviceId(*h.props));
    auto slot = std::find_if(slots.begin(), slots.end(),
                             [&](const auto& s) { return SameSlot(s.props, *h.props); });
    if (slot != slots.end() && !slot->plugged()) {
      hp.Plug(*slot, id, deadline);
    } else {
      // No such free slot: let QEMU say why (that is what expect_error tests).
      hp.DeviceAdd(slots.front().type, id, *h.props, deadline);
      vm.Qmp().WaitForEvent("ACPI_DEVICE_OST", MatchData({{"info", {{"device", id}}}}), deadline);
    }
    ctx.plugged.push_back(id);
    plugged.push_back(id);
  } else {
    auto free = hp.FreeSlots();
    size_t n = h.max ? free.size() : static_cast<size_t>(h.count);
    if (n > free.size()) {
      throw StepFailed(FailureKind::kExpectation, "asked to plug " + std::to_string(n) +
                                          " CPUs but QEMU has " + std::to_string(free.size()) +
                                          " free slots");
    }
    for (size_t i = 0; i < n; ++i) {
      std::string id = h.id && n == 1 ? *h.id : SlotDeviceId(free[i].props);
      hp.Plug(free[i], id, deadline);
      ctx.plugged.push_back(id);
      plugged.push_back(id);
    }
  }
  detail["plugged"] = plugged;
  if (h.online) {
    // The guest numbers new CPUs in the order it processes them: take the
    // ones that appeared, however they are numbered.
    std::set<int> fresh;
    bool appeared = WaitUntil(deadline, kGuestPollInterval, [&] {
      std::set<int> now = GuestCpuIds(vm, deadline);
      fresh.clear();
      std::set_difference(now.begin(), now.end(), before.begin(), before.end(),
                          std::inserter(fresh, fresh.end()));
      return fresh.size() >= plugged.size();
    });
    if (!appeared) {
      throw TimeoutError("hotplug: the guest shows " + std::to_string(fresh.size()) +
                         " new CPU(s) after plugging " + std::to_string(plugged.size()));
    }
    std::vector<GuestVcpu> set;
    for (int cpu : fresh) set.push_back({cpu, true, true});
    vm.Agent().SetVcpus(set, deadline);
    detail["onlined"] = std::vector<int>(fresh.begin(), fresh.end());
  }
  return detail;
}

json Unplug(StepContext& ctx, const UnplugStep& u, const Deadline& deadline) {
  Vm& vm = *ctx.vm;
  std::vector<std::string> ids = u.ids;
  if (u.all) {
    ids.assign(ctx.plugged.rbegin(), ctx.plugged.rend());
  } else if (u.count > 0) {
    if (u.count > static_cast<int>(ctx.plugged.size())) {
      throw StepFailed(FailureKind::kExpectation, "asked to unplug " + std::to_string(u.count) +
                                          " CPUs but only " + std::to_string(ctx.plugged.size()) +
                                          " were hot-plugged");
    }
    ids.assign(ctx.plugged.rbegin(), ctx.plugged.rbegin() + u.count);
  }
  if (u.props) {
    auto slots = vm.Hotplug().Slots();
    auto slot = std::find_if(slots.begin(), slots.end(),
                             [&](const auto& s) { return SameSlot(s.props, *u.props); });
    if (slot == slots.end() || !slot->plugged()) {
      // Ask QEMU anyway, by the id cpuhp would have given it: its answer is the test.
      ids.push_back(SlotDeviceId(*u.props));
    } else if (auto id = PluggedDeviceId(*slot)) {
      ids.push_back(*id);
    } else {
      // A CPU from -smp has no id: device_del takes its QOM path.
      ids.push_back(*slot->qom_path);
    }
  }
  // Where the backend's bookkeeping disagreed with QEMU and the guest
  // (libvirt's unplug timeout while the slot is free): kept in the step's record.
  json disagreements = json::array();
  for (const auto& id : ids) {
    auto result = vm.Hotplug().Unplug(id, deadline);
    if (!result.backend_disagreement.empty()) {
      disagreements.push_back({{"id", id}, {"backend", result.backend_disagreement}});
    }
    std::erase(ctx.plugged, id);
  }
  json detail = {{"unplugged", ids}};
  if (!disagreements.empty()) detail["backend_disagreements"] = disagreements;
  return detail;
}

json SetOnline(StepContext& ctx, const SetOnlineStep& s, const Deadline& deadline) {
  json detail = json::object();
  KeepDetailOnThrow keep(ctx, detail);
  AgentLink& agent = ctx.vm->Agent();
  auto vcpus = agent.GetVcpus(deadline);
  std::vector<GuestVcpu> change;
  if (s.all || s.count > 0) {
    std::vector<GuestVcpu> candidates;
    for (const auto& v : vcpus) {
      if (v.online != s.online && (s.online || v.can_offline)) candidates.push_back(v);
    }
    std::sort(candidates.begin(), candidates.end(),
              [](const auto& a, const auto& b) { return a.logical_id < b.logical_id; });
    if (!s.online) std::reverse(candidates.begin(), candidates.end());
    if (s.count > 0) {
      if (static_cast<int>(candidates.size()) < s.count) {
        throw StepFailed(FailureKind::kExpectation,
                         std::string("asked to ") + (s.online ? "online " : "offline ") +
                             std::to_string(s.count) + " CPUs but the guest has " +
                             std::to_string(candidates.size()) + " that can change");
      }
      candidates.resize(s.count);
    }
    for (const auto& v : candidates) change.push_back({v.logical_id, s.online, true});
  } else {
    for (int cpu : s.cpus) {
      auto it = std::find_if(vcpus.begin(), vcpus.end(),
                             [&](const auto& v) { return v.logical_id == cpu; });
      if (it == vcpus.end()) {
        throw StepFailed(FailureKind::kExpectation,
                         "cpu" + std::to_string(cpu) + " is not present in the guest");
      }
      change.push_back({cpu, s.online, true});
    }
  }
  std::vector<int> cpus;
  for (const auto& v : change) cpus.push_back(v.logical_id);
  detail[s.online ? "onlined" : "offlined"] = cpus;
  if (!change.empty()) agent.SetVcpus(change, deadline);
  return detail;
}

// Writes checks/NN-step<path>.json, names it in `detail`, and throws
// StepFailed (kCheck, naming the failed invariants) when `r` failed.
void RecordCheck(StepContext& ctx, const CheckResult& r, const std::string& path, json& detail) {
  ++ctx.checks;
  char name[32];
  std::snprintf(name, sizeof name, "%02d-step", ctx.checks);
  std::string file_name = std::string(name) + path + ".json";
  std::replace(file_name.begin(), file_name.end(), '[', '_');
  std::replace(file_name.begin(), file_name.end(), ']', '_');
  json out = {{"step", path},
              {"time", UtcTimestamp()},
              {"passed", r.Passed()},
              {"summary", r.Summary()},
              {"result", r.ToJson()}};
  WriteJsonFile(ctx.artifacts_dir / "checks" / file_name, out);
  detail["check"] = "checks/" + file_name;
  detail["summary"] = r.Summary();
  if (!r.Passed()) {
    std::vector<std::string> names;
    for (const auto& f : r.Failures()) names.push_back(f.name);
    throw StepFailed(FailureKind::kCheck, r.Summary(), names);
  }
}

json Check(StepContext& ctx, const CheckStep& c, const std::string& path,
           const Deadline& deadline) {
  json detail = json::object();
  KeepDetailOnThrow keep(ctx, detail);
  Vm& vm = *ctx.vm;
  CheckOptions options;
  options.only = c.only;
  options.baseline_states = ctx.baseline_states;
  options.smp = vm.spec().smp;
  for (const auto& word : c.deep) options.deep.Enable(word);
  options.deep = EffectiveProbe(options);
  if (options.deep.watch_tasks && ctx.load) options.deep.tasks = ctx.load->pids();
  options.deep.cgroups = ctx.cgroups;
  options.previous_irqs = ctx.irq_counts;
  CheckResult r = c.settle ? CheckUntilConsistent(vm, options, deadline) : CheckMachine(vm, options);
  if (r.irq_counts) ctx.irq_counts = r.irq_counts;
  RecordCheck(ctx, r, path, detail);
  if (c.expect_online) {
    std::string path = std::string(kSysCpu) + "/online";
    CpuSet online = CpuSet::Parse(vm.Agent().TryReadFile(path, deadline).value_or(""), path);
    detail["online"] = online.ToString();
    if (online != *c.expect_online) {
      throw StepFailed(FailureKind::kExpectation, "the guest's online mask is " + online.ToString() +
                                                      ", expected " + c.expect_online->ToString() +
                                                      " [guest " + path + "]");
    }
  }
  return detail;
}

// What an inner step (of expect_error / expect_failure) did: its detail and
// what it threw.
struct InnerOutcome {
  json detail;
  std::exception_ptr thrown;
};

// Runs the inner step without a record of its own.
InnerOutcome RunInner(StepContext& ctx, const Step& inner, const std::string& path,
                      const Deadline& deadline) {
  try {
    return {ExecuteStep(ctx, inner, path, deadline), nullptr};
  } catch (const RunCancelled&) {
    throw;
  } catch (...) {
    return {std::exchange(ctx.failed_detail, json::object()), std::current_exception()};
  }
}

void CheckExpectedError(StepContext& ctx, const std::string& want, const ExpectErrorStep& e,
                        const std::string& cls, const std::string& desc, json& detail) {
  detail["error"] = {{"class", cls}, {"desc", desc}};
  if (cls != e.error_class ||
      (e.message && Lowercase(desc).find(Lowercase(*e.message)) == std::string::npos)) {
    throw StepFailed(FailureKind::kExpectation, "expected " + want + ", got " + cls + ": " + desc);
  }
  LOG(kInfo, "scenario") << ctx.label << ": expected error came: " << cls << ": " << desc;
}

json ExpectError(StepContext& ctx, const ExpectErrorStep& e, const std::string& path,
                 const Deadline& deadline) {
  auto [detail, thrown] = RunInner(ctx, e.step[0], path, deadline);
  KeepDetailOnThrow keep(ctx, detail);
  std::string want =
      "QMP error class " + e.error_class + (e.message ? " with \"" + *e.message + "\"" : "");
  if (!thrown) throw StepFailed(FailureKind::kExpectation, "expected " + want + ", but the step succeeded");
  try {
    std::rethrow_exception(thrown);
  } catch (const CommandError& c) {
    CheckExpectedError(ctx, want, e, c.error_class(), c.desc(), detail);
  } catch (const std::exception& other) {
    throw StepFailed(FailureKind::kExpectation,
                     "expected " + want + ", but the step failed otherwise: " + other.what());
  }
  return detail;
}

json ExpectFailure(StepContext& ctx, const ExpectFailureStep& f, const std::string& path,
                   const Deadline& deadline) {
  auto [detail, thrown] = RunInner(ctx, f.step[0], path, deadline);
  KeepDetailOnThrow keep(ctx, detail);
  if (!thrown) {
    throw StepFailed(
        FailureKind::kExpectation,
        "expected the step to fail" +
            (f.invariants.empty() ? std::string() : " (invariant " + f.invariants.front() + ")") +
            ", but it passed");
  }
  try {
    std::rethrow_exception(thrown);
  } catch (const std::exception& e) {
    Classified c = Classify(e);
    detail["failure"] = {
        {"type", FailureKindName(c.kind)}, {"message", e.what()}, {"invariants", c.invariants}};
    for (const auto& want : f.invariants) {
      if (std::find(c.invariants.begin(), c.invariants.end(), want) == c.invariants.end()) {
        throw StepFailed(FailureKind::kExpectation, "expected invariant " + want + " to fail, but the step " +
                                            (c.kind == FailureKind::kCheck ? "failed on other invariants: "
                                                               : "failed otherwise: ") +
                                            e.what());
      }
    }
    if (f.error && *f.error != "any" && FailureKindFromName(*f.error) != c.kind) {
      throw StepFailed(FailureKind::kExpectation, "expected a " + *f.error + " failure, got a " +
                                                      std::string(FailureKindName(c.kind)) +
                                                      " failure: " + e.what());
    }
    if (f.message && Lowercase(e.what()).find(Lowercase(*f.message)) == std::string::npos) {
      throw StepFailed(FailureKind::kExpectation,
                       "expected a failure mentioning \"" + *f.message + "\", got: " + e.what());
    }
  }
  return detail;
}

json Migrate(StepContext& ctx, const MigrateStep& m) {
  json detail = json::object();
  KeepDetailOnThrow keep(ctx, detail);
  json migrations = json::array();
  for (int i = 0; i < m.times; ++i) {
    ++ctx.migrations;
    fs::path dest_dir = ctx.artifacts_dir / ("migration-" + std::to_string(ctx.migrations));
    MigrationResult r;
    std::unique_ptr<Vm> dest = ctx.vm->MigrateTo(dest_dir, m.options, &r);
    migrations.push_back(
        {{"status", r.status},
         {"wall_s", ToSeconds(r.wall_time)},
         {"total_time_ms", r.total_time_ms ? json(*r.total_time_ms) : nullptr},
         {"downtime_ms", r.downtime_ms ? json(*r.downtime_ms) : nullptr},
         {"artifacts", dest_dir.string()}});
    // What the source went through ("postcopy-active" proves a postcopy).
    if (!r.statuses.empty()) migrations.back()["statuses"] = r.statuses;
    if (m.probe_hotplug) migrations.back()["probes"] = r.ToJson()["probes"];
    detail["migrations"] = migrations;
    if (m.probe_hotplug && *m.probe_hotplug != "record") {
      bool want_accepted = *m.probe_hotplug == "accepted";
      for (const auto& probe : r.probes) {
        if (probe.accepted == want_accepted) continue;
        throw StepFailed(FailureKind::kExpectation,
                         "QEMU " + std::string(probe.accepted ? "accepted " : "refused ") +
                             probe.command + " during migration " + std::to_string(i + 1) +
                             (probe.accepted ? "" : " (" + probe.error_class + ": " + probe.desc + ")") +
                             ", expected it to be " + *m.probe_hotplug);
      }
      if (r.probes.empty()) {
        throw StepFailed(FailureKind::kExpectation, "migration " + std::to_string(i + 1) +
                                            " ended before device_add/device_del could be tried");
      }
    }
    if (m.expect_status && r.status != *m.expect_status) {
      throw StepFailed(FailureKind::kMigration, "migration " + std::to_string(i + 1) + " ended " + r.status +
                                        ", expected " + *m.expect_status);
    }
    if (!dest) break;  // cancelled: the source keeps running
    // The source was shut down by the migration; the scenario goes on with the destination.
    ctx.vm = std::move(dest);
  }
  return detail;
}

json Load(StepContext& ctx, const GuestLoadStep& g, const Deadline& deadline) {
  AgentLink& agent = ctx.vm->Agent();
  if (g.stop) {
    if (!ctx.load) throw StepFailed(FailureKind::kExpectation, "no guest load is running");
    ctx.load->Stop(agent, deadline);
    ctx.load.reset();
    return json::object();
  }
  if (ctx.load) throw StepFailed(FailureKind::kExpectation, "a guest load is already running");
  int workers = g.workers;
  if (workers == 0) {
    for (const auto& v : agent.GetVcpus(deadline)) workers += v.online ? 1 : 0;
  }
  ctx.load = GuestLoad::Start(agent, workers, g.pin, g.lands_on, deadline);
  json pins = json::array();
  for (const auto& p : g.pin) pins.push_back(p.ToString());
  json detail = {{"workers", workers}, {"pids", ctx.load->pids()}, {"pinned", pins}};
  if (g.lands_on) detail["landed_on"] = g.lands_on->ToString();
  return detail;
}

json Cgroup(StepContext& ctx, const CgroupStep& c, const Deadline& deadline) {
  // The name is a plain word and the cpulist cpuhp's own text (step_parser.cc).
  std::string dir = std::string(kCgroupRoot);
  std::string script = "set -e; d=" + dir + "; [ -e $d/cgroup.controllers ] || mount -t cgroup2 none $d; " +
                       "grep -qw cpuset $d/cgroup.subtree_control || echo +cpuset >$d/cgroup.subtree_control; " +
                       "mkdir -p $d/" + c.name + "; echo " + c.cpus.ToString() + " >$d/" + c.name +
                       "/cpuset.cpus";
  std::string output;
  int rc = RunGuestShell(ctx.vm->Agent(), script, deadline, &output);
  if (rc != 0) {
    throw StepFailed(FailureKind::kExpectation,
                     "cgroup " + c.name + ": the guest's shell exited " + std::to_string(rc) + ": " +
                         TerminalSafe(output.substr(0, 512)));
  }
  if (std::find(ctx.cgroups.begin(), ctx.cgroups.end(), c.name) == ctx.cgroups.end()) {
    ctx.cgroups.push_back(c.name);
  }
  return {{"cgroup", c.name}, {"cpus", c.cpus.ToString()}};
}

json Smt(StepContext& ctx, const SmtStep& s, const Deadline& deadline) {
  ctx.vm->Agent().WriteFile(std::string(kSysCpu) + "/smt/control", s.control, deadline);
  return {{"control", s.control}};
}

json Repeat(StepContext& ctx, const RepeatStep& r, const std::string& path,
            const Deadline& deadline) {
  Clock::time_point start = Clock::now();
  int iteration = 0;
  for (;;) {
    if (r.times > 0 && iteration >= r.times) break;
    if (r.duration && Clock::now() - start >= *r.duration) break;
    ++iteration;
    for (size_t j = 0; j < r.steps.size(); ++j) {
      std::string child = path + "[" + std::to_string(iteration) + "]." + std::to_string(j + 1);
      ctx.run_recorded(r.steps[j], child, deadline);
    }
  }
  return {{"iterations", iteration}};
}

json Sleep(StepContext& ctx, const SleepStep& s, const Deadline& deadline) {
  Clock::time_point end = Clock::now() + s.duration;
  while (Clock::now() < end) {
    if (ctx.Cancelled()) throw RunCancelled();
    if (deadline.Expired()) throw TimeoutError("sleep outlasted its step deadline");
    std::this_thread::sleep_for(
        std::min<Clock::duration>(end - Clock::now(), std::chrono::milliseconds(200)));
  }
  return json::object();
}

// Console lines quoted when a wait finds none: enough to see where the guest
// got to, few enough to read.
constexpr int kConsoleLinesInError = 10;

json WaitForConsole(StepContext& ctx, const WaitForConsoleStep& w, const Deadline& deadline) {
  ConsoleLineWait wait = ctx.vm->WaitForConsoleLine(w.pattern, deadline);
  json detail = {{"pattern", w.pattern.text()}, {"skipped", wait.skipped}};
  if (wait.line) {
    detail["line_number"] = wait.line->number;
    detail["line"] = TerminalSafe(wait.line->text);
    return detail;
  }
  ctx.failed_detail = detail;
  std::string why = "no console line matched '" + w.pattern.text() + "' " +
                    (wait.ended ? "before the console closed" : "before the step's deadline") +
                    " (read up to line " + std::to_string(wait.last_number) + ")";
  if (wait.skipped > 0) {
    why += "; " + std::to_string(wait.skipped) + " lines scrolled away unread";
  }
  const std::string tail = ctx.vm->SerialTail(kConsoleLinesInError);
  if (!tail.empty()) why += "\nserial.log (last lines):\n" + tail;
  if (wait.ended) throw ConnectionError(why);
  throw TimeoutError(why);
}

json Reboot(StepContext& ctx, const RebootStep& r, const std::string& path,
            const Deadline& deadline) {
  json detail = {{"via", r.via == RebootVia::kGuest ? "guest" : "system_reset"}};
  KeepDetailOnThrow keep(ctx, detail);
  Vm& vm = *ctx.vm;
  HostView before = ReadHostView(vm.Qmp());
  if (ctx.load) {
    // Its processes end with the guest; nothing is left to stop.
    detail["load_ended"] = ctx.load->pids();
    ctx.load.reset();
  }
  Clock::duration took = vm.Reboot(r.via, deadline);
  detail["reboot_s"] = ToSeconds(took);
  // The guest reports its CPUs once its boot is done: the agent answers
  // after smp_init() brought up every CPU it was going to.
  HostView after = ReadHostView(vm.Qmp());
  GuestSnapshot guest = ReadGuestSnapshot(vm.Agent(), deadline);
  RecordCheck(ctx, CheckReboot(before, after, guest), path, detail);
  return detail;
}

json FailAt(StepContext& ctx, const FailAtStep& f, const std::string& path,
            const Deadline& deadline) {
  json detail = {{"cpu", f.cpu}, {"state", f.state}};
  KeepDetailOnThrow keep(ctx, detail);
  AgentLink& agent = ctx.vm->Agent();
  GuestSnapshot before = ReadGuestSnapshot(agent, deadline);
  const GuestCpu* cpu = before.Cpu(f.cpu);
  if (!cpu) {
    throw StepFailed(FailureKind::kExpectation, "cpu" + std::to_string(f.cpu) + " is not present in the guest");
  }
  if (!cpu->hotplug_fail) {
    // Linux (6.1 at least) has `fail` wherever it has hotplug/state, also
    // without CONFIG_CPU_HOTPLUG_STATE_CONTROL (that only makes `target`
    // writable); 6.1 gives hotplug/ only to CPUs registered at boot.
    std::string why = "skipped: the guest has no cpu" + std::to_string(f.cpu) +
                      "/hotplug/fail (" +
                      (cpu->hotplug_state ? "a kernel without hotplug fault injection"
                                          : "no cpuN/hotplug/ at all: a CPU hot-added after boot "
                                            "(Linux registers it only for boot CPUs)") +
                      ")";
    LOG(kWarning, "scenario") << ctx.label << ": fail_at " << why;
    detail["skipped"] = why;
    return detail;
  }
  if (!cpu->online) {
    throw StepFailed(FailureKind::kExpectation, "cpu" + std::to_string(f.cpu) +
                                                    " has no online file: it cannot go offline or online");
  }
  std::optional<int> state = ResolveHotplugState(before.states, f.state);
  if (!state) {
    throw StepFailed(FailureKind::kExpectation,
                     "hotplug/states has no state '" + f.state + "' (" +
                         std::to_string(before.states.size()) + " states listed)");
  }
  const bool online = f.online.value_or(!*cpu->online);
  const std::string dir = std::string(kSysCpu) + "/cpu" + std::to_string(f.cpu);
  detail["state_number"] = *state;
  detail["action"] = online ? "online" : "offline";
  // The kernel refuses states whose callbacks cannot fail (STARTING/DYING)
  // or that have none: an AgentError here, which expect_error can name.
  agent.WriteFile(dir + "/hotplug/fail", std::to_string(*state), deadline);
  try {
    agent.WriteFile(dir + "/online", online ? "1" : "0", deadline);
    detail["transition"] = "succeeded";
  } catch (const AgentError& e) {
    detail["transition"] = std::string("failed: ") + e.desc();
  }
  GuestSnapshot after = ReadGuestSnapshot(agent, deadline);
  if (detail["transition"] == "succeeded") {
    throw StepFailed(FailureKind::kExpectation,
                     std::string(online ? "online" : "offline") + " of cpu" + std::to_string(f.cpu) +
                         " succeeded although hotplug/fail was set to " + std::to_string(*state) +
                         " (" + f.state + ")");
  }
  RecordCheck(ctx, CheckRollback(before, after, f.cpu), path, detail);
  return detail;
}

}  // namespace

Classified Classify(const std::exception& e) {
  if (auto* f = dynamic_cast<const StepFailed*>(&e)) return {f->kind(), f->invariants()};
  if (auto* err = dynamic_cast<const Error*>(&e)) return {err->kind(), {}};
  return {FailureKind::kError, {}};
}

json ExecuteStep(StepContext& ctx, const Step& step, const std::string& path,
                 const Deadline& deadline) {
  // A step that throws before it has a detail leaves none behind.
  ctx.failed_detail = json::object();
  if (ctx.vm)
    ctx.vm->transcript().Record("scenario", Transcript::Direction::kNote,
                                "step " + path + ": " + step.name);
  switch (step.kind) {
    case StepKind::kHotplug:
      return Hotplug(ctx, std::get<HotplugStep>(step.params), deadline);
    case StepKind::kUnplug:
      return Unplug(ctx, std::get<UnplugStep>(step.params), deadline);
    case StepKind::kOnline:
    case StepKind::kOffline:
      return SetOnline(ctx, std::get<SetOnlineStep>(step.params), deadline);
    case StepKind::kCheck:
      return Check(ctx, std::get<CheckStep>(step.params), path, deadline);
    case StepKind::kExpectError:
      return ExpectError(ctx, std::get<ExpectErrorStep>(step.params), path, deadline);
    case StepKind::kExpectFailure:
      return ExpectFailure(ctx, std::get<ExpectFailureStep>(step.params), path, deadline);
    case StepKind::kMigrate:
      return Migrate(ctx, std::get<MigrateStep>(step.params));
    case StepKind::kGuestLoad:
      return Load(ctx, std::get<GuestLoadStep>(step.params), deadline);
    case StepKind::kRepeat:
      return Repeat(ctx, std::get<RepeatStep>(step.params), path, deadline);
    case StepKind::kSleep:
      return Sleep(ctx, std::get<SleepStep>(step.params), deadline);
    case StepKind::kWaitForConsole:
      return WaitForConsole(ctx, std::get<WaitForConsoleStep>(step.params), deadline);
    case StepKind::kCgroup:
      return Cgroup(ctx, std::get<CgroupStep>(step.params), deadline);
    case StepKind::kSmt:
      return Smt(ctx, std::get<SmtStep>(step.params), deadline);
    case StepKind::kReboot:
      return Reboot(ctx, std::get<RebootStep>(step.params), path, deadline);
    case StepKind::kFailAt:
      return FailAt(ctx, std::get<FailAtStep>(step.params), path, deadline);
  }
  throw Error("step " + path + ": unknown step kind");
}

}  // namespace cpuhp
