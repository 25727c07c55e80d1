// The one helper for waiting on a condition that nothing notifies: the
// guest's sysfs settling after a hotplug, a guest-exec process exiting. (What
// an fd or an event can tell is awaited with poll(2) and a Deadline instead.)
//
//   bool exited = WaitUntil(deadline, kGuestPollInterval, [&] {
//     return agent.Execute("guest-exec-status", {{"pid", pid}}, deadline).value("exited", false);
//   });
//   if (!exited) throw TimeoutError("guest process " + std::to_string(pid) + " did not exit");
#pragma once

#include <algorithm>
#include <thread>

#include "util/deadline.h"

namespace cpuhp {

// How often cpuhp re-reads guest state that has no event of its own: short
// against a hotplug's 0.1-4 s, long against one agent round trip (~1 ms).
inline constexpr milliseconds kGuestPollInterval{100};

// Calls `done` until it returns true or `deadline` passes, sleeping `every`
// (at most what is left) in between; returns whether it did. `done` runs at
// least once, and once more when the deadline is reached, so a condition that
// became true during the last interval is still seen.
template <typename Done>
bool WaitUntil(const Deadline& deadline, Clock::duration every, Done&& done) {
  for (;;) {
    bool expired = deadline.Expired();
    if (done()) return true;
    if (expired) return false;
    std::this_thread::sleep_for(std::min(every, deadline.Remaining()));
  }
}

}  // namespace cpuhp
