#include "report/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "util/text.h"
#include "util/transcript.h"

namespace cpuhp {
namespace {

std::string Counter(int index, int total) {
  return "[" + std::to_string(index + 1) + "/" + std::to_string(total) + "]";
}

int TerminalWidth(std::FILE* out) {
  winsize ws{};
  if (::ioctl(::fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
  return 100;
}

}  // namespace

std::string QueueLine(int total, int running, int finished) {
  const int waiting = std::max(total - running - finished, 0);
  return "queue: " + std::to_string(running) + " running, " + std::to_string(waiting) +
         " waiting, " + std::to_string(finished) + " of " + std::to_string(total) + " done";
}

bool IsTerminal(std::FILE* out) {
  const char* term = std::getenv("TERM");
  return ::isatty(::fileno(out)) && !(term && std::strcmp(term, "dumb") == 0);
}

std::unique_ptr<RunObserver> MakeProgress(std::FILE* out, int total) {
  if (IsTerminal(out)) return std::make_unique<TtyProgress>(out, total);
  return std::make_unique<PlainProgress>(out, total);
}

// Labels, step names and failure messages carry scenario and guest text:
// every plain line goes through TerminalSafe, and TtyProgress sanitises each
// piece before it adds escapes of its own (colours, cursor moves).
void PlainProgress::Line(const std::string& text) {
  std::fprintf(out_, "%s %s\n", UtcTimestamp().c_str(), TerminalSafe(text).c_str());
  std::fflush(out_);
}

void PlainProgress::RunStarted(int index, const std::string& label) {
  std::lock_guard lock(mutex_);
  running_.insert(index);
  Line(Counter(index, total_) + " " + label + ": started");
}

void PlainProgress::StepStarted(int index, const std::string& label, int step, int steps,
                                const std::string& step_name) {
  std::lock_guard lock(mutex_);
  steps_[index] = steps;
  if (step == 0) return;  // the boot: reported when it ends
  Line(Counter(index, total_) + " " + label + ": step " + std::to_string(step) + "/" +
       std::to_string(steps) + " " + step_name);
}

void PlainProgress::StepFinished(int index, const std::string& label, const StepRecord& r) {
  std::lock_guard lock(mutex_);
  char took[32];
  std::snprintf(took, sizeof took, "%.1f s", r.duration_s);
  std::string text = Counter(index, total_) + " " + label + ": " +
                     (r.path == "boot" ? "boot" : "step " + r.path + " " + r.name) + " " +
                     r.outcome + " (" + took + ")";
  if (r.outcome != "passed" && !r.message.empty()) {
    text += ": " + r.message.substr(0, r.message.find('\n'));
  }
  Line(text);
}

void PlainProgress::RunFinished(int index, const RunResult& r) {
  std::lock_guard lock(mutex_);
  std::string text = Counter(index, total_) + " " + r.label + ": " + OutcomeName(r.outcome) +
                     " in " + FormatDuration(r.duration);
  if (!r.Passed() && r.outcome != RunOutcome::kSkipped) text += " - " + r.FailureLine();
  Line(text);
  running_.erase(index);
  ++finished_;
  if (total_ > 1) Line(QueueLine(total_, static_cast<int>(running_.size()), finished_));
}

TtyProgress::TtyProgress(std::FILE* out, int total) : out_(out), total_(total) {
  thread_ = std::thread([this] { Loop(); });
}

TtyProgress::~TtyProgress() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    jobs_.clear();
    Redraw();
  }
  wake_.notify_all();
  thread_.join();
}

void TtyProgress::RunStarted(int index, const std::string& label) {
  std::lock_guard lock(mutex_);
  Clock::time_point now = Clock::now();
  jobs_[index] = {TerminalSafe(label), 0, 0, "boot", now, now};
  Redraw();
}

void TtyProgress::StepStarted(int index, const std::string& label, int step, int steps,
                              const std::string& step_name) {
  std::lock_guard lock(mutex_);
  Job& job = jobs_[index];
  job.label = TerminalSafe(label);
  job.step = step;
  job.steps = steps;
  job.step_name = TerminalSafe(step_name);
  job.step_started = Clock::now();
  Redraw();
}

void TtyProgress::RunFinished(int index, const RunResult& r) {
  std::lock_guard lock(mutex_);
  jobs_.erase(index);
  ++finished_;
  char took[32];
  std::snprintf(took, sizeof took, "%.1f s", ToSeconds(r.duration));
  std::string line = OutcomeColor(r.outcome) + std::string(OutcomeTag(r.outcome)) + "\033[0m " +
                     TerminalSafe(r.label) + "  " + took;
  if (!r.Passed() && r.outcome != RunOutcome::kSkipped) {
    line += "  " + TerminalSafe(r.FailureLine());
  }
  pending_.push_back(line);
  Redraw();
}

void TtyProgress::Redraw() {
  std::string frame;
  // Back to the first live line, and clear from there down.
  if (live_lines_ > 0) frame += "\033[" + std::to_string(live_lines_) + "A";
  frame += "\r\033[J";
  int width = TerminalWidth(out_);
  for (const auto& line : pending_) frame += line + "\n";
  pending_.clear();
  live_lines_ = 0;
  Clock::time_point now = Clock::now();
  for (const auto& [index, job] : jobs_) {
    char took[32];
    std::snprintf(took, sizeof took, "(%.1f s)", ToSeconds(now - job.step_started));
    std::string line = Counter(index, total_) + " " + job.label + " " +
                       (job.step == 0 ? std::string("boot")
                                      : "step " + std::to_string(job.step) + "/" +
                                            std::to_string(job.steps) + " " + job.step_name) +
                       " " + took;
    if (static_cast<int>(line.size()) >= width) line = line.substr(0, width - 1);
    frame += line + "\n";
    ++live_lines_;
  }
  if (!jobs_.empty() && total_ > 1) {
    frame += QueueLine(total_, static_cast<int>(jobs_.size()), finished_) + "\n";
    ++live_lines_;
  }
  std::fputs(frame.c_str(), out_);
  std::fflush(out_);
}

void TtyProgress::Loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::milliseconds(250));
    if (!stopping_ && !jobs_.empty()) Redraw();
  }
}

}  // namespace cpuhp
