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
#include <vector>

#include "guest/agent_client.h"

namespace cpuhp {

class GuestLoad {
 public:
  // Starts `workers` busy loops. Throws AgentError (e.g. guest-exec disabled),
  // TimeoutError.
  static GuestLoad Start(AgentLink& agent, int workers, const Deadline& deadline);

  // Kills the loops and waits until the agent reports each one exited.
  // Throws AgentError, TimeoutError.
  void Stop(AgentLink& agent, const Deadline& deadline);

  const std::vector<int64_t>& pids() const { return pids_; }

 private:
  std::vector<int64_t> pids_;
};

}  // namespace cpuhp
