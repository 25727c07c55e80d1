// Background load in the guest: busy loops started through the guest agent
// (guest-exec of the kit's busybox sh), kept running while other steps run.
//
// Each worker records its pid in a file in the guest, and Stop() kills what
// that file lists, so the commands sent are the same on every run and a repro
// script can replay them verbatim.
//
//   GuestLoad load = GuestLoad::Start(vm.Agent(), 2, deadline);
//   ... hotplug under load ...
//   load.Stop(vm.Agent(), deadline);
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "guest/agent_client.h"
#include "guest/cpuset.h"

namespace cpuhp {

class GuestLoad {
 public:
  // Starts `workers` busy loops. Throws AgentError (e.g. guest-exec disabled),
  // TimeoutError.
  static GuestLoad Start(AgentLink& agent, int workers, const Deadline& deadline);
  // As Start, worker i pinned with `taskset -c pins[i]` (the rest unpinned);
  // returns once each pinned worker is seen runnable (/proc/PID/stat state R)
  // on one of its CPUs: the scheduler runs a new task where it is pinned.
  // Throws TimeoutError naming the worker and where it was seen.
  // With `lands_on`, it then also waits until one of the unpinned workers is
  // seen runnable on one of those CPUs (the scheduler places free tasks
  // there), else throws TimeoutError with where each was last seen.
  static GuestLoad Start(AgentLink& agent, int workers, const std::vector<CpuSet>& pins,
                         const std::optional<CpuSet>& lands_on, const Deadline& deadline);

  // Kills the loops and waits until the agent reports each one exited.
  // Throws AgentError, TimeoutError.
  void Stop(AgentLink& agent, const Deadline& deadline);

  const std::vector<int64_t>& pids() const { return pids_; }

 private:
  std::vector<int64_t> pids_;
};

// Runs `script` with the guest's /bin/sh through guest-exec and waits for
// it (polling guest-exec-status). Returns its exit code; `output` gets its
// stdout and stderr (bounded by the agent's capture). Throws AgentError,
// TimeoutError. The script is cpuhp's own text, never guest output.
int RunGuestShell(AgentLink& agent, const std::string& script, const Deadline& deadline,
                  std::string* output = nullptr);

}  // namespace cpuhp
