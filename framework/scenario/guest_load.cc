#include "scenario/guest_load.h"

#include "guest/kernel_probe.h"
#include "util/base64.h"
#include "util/log.h"
#include "util/wait.h"

namespace cpuhp {
namespace {

constexpr char kPidFile[] = "/run/cpuhp-load.pids";

int64_t GuestExec(AgentLink& agent, const std::string& script, const Deadline& deadline) {
  auto ret = agent.Execute(
      "guest-exec", {{"path", "/bin/sh"}, {"arg", {"-c", script}}, {"capture-output", false}},
      deadline);
  return ret.at("pid").get<int64_t>();
}

}  // namespace

GuestLoad GuestLoad::Start(AgentLink& agent, int workers, const Deadline& deadline) {
  return Start(agent, workers, {}, std::nullopt, deadline);
}

namespace {

// Waits until one of `pids` is seen runnable (/proc/PID/stat state R) on a
// CPU of `cpus`. Returns "" when one was, else what was last seen of each.
std::string WaitRunnableOn(AgentLink& agent, const std::vector<int64_t>& pids, const CpuSet& cpus,
                           const Deadline& deadline) {
  std::vector<std::string> seen(pids.size(), "nothing");
  bool all_gone = false;  // exited (taskset refused the CPUs): no use waiting
  bool placed = WaitUntil(deadline, kGuestPollInterval, [&] {
    all_gone = true;
    for (size_t i = 0; i < pids.size(); ++i) {
      std::string stat_path = "/proc/" + std::to_string(pids[i]) + "/stat";
      std::optional<std::string> stat;
      try {
        stat = agent.TryReadFile(stat_path, deadline);
      } catch (const TimeoutError&) {
        // A guest busy with the workers answers slowly: the read that the
        // deadline cut short is the wait's end, not a lost agent.
        if (!deadline.Expired()) throw;
        seen[i] = "no answer from the agent before the deadline";
        all_gone = false;
        return false;
      }
      if (!stat) {
        seen[i] = "no such process (taskset refused the CPUs?)";
        continue;
      }
      auto [state, cpu] = ParseProcStat(*stat, stat_path);
      seen[i] = std::string("state ") + state + " on cpu" + std::to_string(cpu);
      if (state == 'Z' || state == 'X') continue;
      all_gone = false;
      if (state == 'R' && cpus.Contains(cpu)) return true;
    }
    return all_gone;
  });
  if (placed && !all_gone) return "";
  std::string why;
  for (size_t i = 0; i < pids.size(); ++i) {
    why += (why.empty() ? "" : ", ") + std::string("pid ") + std::to_string(pids[i]) + ": " + seen[i];
  }
  return why;
}

}  // namespace

GuestLoad GuestLoad::Start(AgentLink& agent, int workers, const std::vector<CpuSet>& pins,
                           const std::optional<CpuSet>& lands_on, const Deadline& deadline) {
  GuestLoad load;
  // Only shell builtins: the loop itself forks nothing.
  std::string loop = std::string("echo $$ >>") + kPidFile + "; while :; do :; done";
  for (int i = 0; i < workers; ++i) {
    // exec keeps the pid that guest-exec reported through taskset to the loop.
    std::string script = static_cast<size_t>(i) < pins.size()
                             ? "exec taskset -c " + pins[i].ToString() + " /bin/sh -c '" + loop + "'"
                             : loop;
    load.pids_.push_back(GuestExec(agent, script, deadline));
  }
  LOG(kInfo, "scenario") << "guest load: " << workers << " busy loop(s) started, " << pins.size()
                         << " pinned";
  auto fail = [&](const std::string& why) {
    // Leave nothing spinning behind a failed start (an expect_failure may
    // let the run go on); the error says why the start failed, not this.
    try {
      load.Stop(agent, Deadline::After(kAgentTimeout));
    } catch (const Error& e) {
      LOG(kWarning, "scenario") << "guest load: could not stop the workers: " << e.what();
    }
    throw TimeoutError(why);
  };
  for (size_t i = 0; i < pins.size() && i < load.pids_.size(); ++i) {
    std::string seen = WaitRunnableOn(agent, {load.pids_[i]}, pins[i], deadline);
    if (!seen.empty()) {
      fail("guest load: worker " + std::to_string(i) + " pinned to " + pins[i].ToString() +
           " never ran there; last seen: " + seen);
    }
  }
  if (lands_on) {
    std::vector<int64_t> free(load.pids_.begin() + static_cast<std::ptrdiff_t>(std::min(pins.size(), load.pids_.size())),
                              load.pids_.end());
    std::string seen = free.empty() ? "no unpinned worker" : WaitRunnableOn(agent, free, *lands_on, deadline);
    if (!seen.empty()) {
      fail("guest load: no unpinned worker ran on " + lands_on->ToString() + "; last seen: " + seen);
    }
  }
  return load;
}

int RunGuestShell(AgentLink& agent, const std::string& script, const Deadline& deadline,
                  std::string* output) {
  auto ret = agent.Execute(
      "guest-exec", {{"path", "/bin/sh"}, {"arg", {"-c", script}}, {"capture-output", true}},
      deadline);
  int64_t pid = ret.at("pid").get<int64_t>();
  nlohmann::json status;
  bool exited = WaitUntil(deadline, kGuestPollInterval, [&] {
    status = agent.Execute("guest-exec-status", {{"pid", pid}}, deadline);
    return status.value("exited", false);
  });
  if (!exited) throw TimeoutError("guest shell: process " + std::to_string(pid) + " did not exit");
  if (output) {
    *output = Base64Decode(status.value("out-data", "")) + Base64Decode(status.value("err-data", ""));
  }
  return status.value("exitcode", -1);
}

void GuestLoad::Stop(AgentLink& agent, const Deadline& deadline) {
  std::string script =
      std::string("while read -r p; do kill $p; done <") + kPidFile + "; : >" + kPidFile;
  int64_t killer = GuestExec(agent, script, deadline);
  std::vector<int64_t> waiting = pids_;
  waiting.push_back(killer);
  // The agent does not notify exits: poll guest-exec-status, bounded.
  while (!waiting.empty()) {
    int64_t pid = waiting.back();
    bool exited = WaitUntil(deadline, kGuestPollInterval, [&] {
      return agent.Execute("guest-exec-status", {{"pid", pid}}, deadline).value("exited", false);
    });
    if (!exited) {
      throw TimeoutError("guest load: process " + std::to_string(pid) + " did not exit after kill");
    }
    waiting.pop_back();
  }
  pids_.clear();
  LOG(kInfo, "scenario") << "guest load stopped";
}

}  // namespace cpuhp
