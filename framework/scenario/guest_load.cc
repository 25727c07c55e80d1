#include "scenario/guest_load.h"

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
  GuestLoad load;
  // Only shell builtins: the loop itself forks nothing.
  std::string script = std::string("echo $$ >>") + kPidFile + "; while :; do :; done";
  for (int i = 0; i < workers; ++i) load.pids_.push_back(GuestExec(agent, script, deadline));
  LOG(kInfo, "scenario") << "guest load: " << workers << " busy loop(s) started";
  return load;
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
