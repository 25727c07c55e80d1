// Ctrl-C and SIGTERM during `cpuhp run`: every VM goes down, none is orphaned.
//
// Construct before starting any worker thread: it blocks SIGINT and SIGTERM
// in the calling thread (new threads inherit that; spawned QEMUs reset it)
// and waits for them in a thread of its own. On the first signal it sets
// cancelled() (runs stop between steps, no new run starts) and kills the
// process group of every child of cpuhp (the QEMUs, each in its own group),
// repeating until destroyed so that a VM launched a moment later goes too. A
// second signal exits at once (the kernel's PDEATHSIG still takes the QEMUs).
#pragma once

#include <atomic>
#include <thread>

namespace cpuhp {

class InterruptHandler {
 public:
  InterruptHandler();
  ~InterruptHandler();  // stops the thread and restores the signal mask
  InterruptHandler(const InterruptHandler&) = delete;
  InterruptHandler& operator=(const InterruptHandler&) = delete;

  const std::atomic<bool>* cancel_flag() const { return &cancelled_; }
  bool cancelled() const { return cancelled_.load(); }
  int signal() const { return signal_.load(); }

 private:
  void Loop();

  std::atomic<bool> cancelled_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<int> signal_{0};
  std::thread thread_;
};

// Sends SIGKILL to the process group of each child of this process (or the
// child alone when it is not a group leader). Returns how many it signalled.
int KillChildProcessGroups();

}  // namespace cpuhp
