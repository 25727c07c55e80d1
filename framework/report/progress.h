// Progress of a `cpuhp run` while it happens.
//
// On a terminal, TtyProgress keeps one live line per running job,
//   [2/7] smoke[tcg] step 3/6 hotplug max (12.4 s)
// redrawn a few times a second, with each finished run printed once above
// them ("PASS smoke 24.1 s"). When the output is not a terminal (CI logs),
// PlainProgress prints one timestamped line per run and step start and end,
// and never rewrites anything.
#pragma once

#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "report/run_result.h"

namespace cpuhp {

// "queue: 2 running, 5 waiting, 9 of 16 done": a suite of `total` runs with
// `running` under way and `finished` ended (skipped ones too).
std::string QueueLine(int total, int running, int finished);

class PlainProgress : public RunObserver {
 public:
  PlainProgress(std::FILE* out, int total) : out_(out), total_(total) {}
  void RunStarted(int index, const std::string& label) override;
  void StepStarted(int index, const std::string& label, int step, int steps,
                   const std::string& step_name) override;
  void StepFinished(int index, const std::string& label, const StepRecord& record) override;
  void RunFinished(int index, const RunResult& result) override;

 private:
  void Line(const std::string& text);
  std::mutex mutex_;
  std::FILE* out_;
  int total_;
  std::map<int, int> steps_;  // index -> steps in the run
  std::set<int> running_;
  int finished_ = 0;
};

class TtyProgress : public RunObserver {
 public:
  TtyProgress(std::FILE* out, int total);
  ~TtyProgress() override;  // stops redrawing and clears the live lines
  void RunStarted(int index, const std::string& label) override;
  void StepStarted(int index, const std::string& label, int step, int steps,
                   const std::string& step_name) override;
  void RunFinished(int index, const RunResult& result) override;

 private:
  struct Job {
    std::string label;
    int step = 0;
    int steps = 0;
    std::string step_name;
    Clock::time_point run_started;
    Clock::time_point step_started;
  };
  void Redraw();  // with mutex_ held
  void Loop();

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::FILE* out_;
  int total_;
  int finished_ = 0;
  std::map<int, Job> jobs_;
  std::vector<std::string> pending_;  // finished-run lines not yet printed
  int live_lines_ = 0;
  std::thread thread_;
};

// TtyProgress when `out` is a terminal (and TERM is not "dumb"), else PlainProgress.
std::unique_ptr<RunObserver> MakeProgress(std::FILE* out, int total);
bool IsTerminal(std::FILE* out);

}  // namespace cpuhp
