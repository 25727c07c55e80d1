#include "util/deadline.h"

#include <cstdio>
#include <cstdlib>
#include <limits>

namespace cpuhp {

double TimeoutScale() {
  static const double scale = [] {
    const char* env = std::getenv("CPUHP_TIMEOUT_SCALE");
    if (env == nullptr || *env == '\0') return 1.0;
    char* end = nullptr;
    double v = std::strtod(env, &end);
    if (end == env || *end != '\0' || !(v > 0)) {
      std::fprintf(stderr, "cpuhp: ignoring CPUHP_TIMEOUT_SCALE=%s (want a positive number)\n", env);
      return 1.0;
    }
    return v;
  }();
  return scale;
}

Deadline Deadline::After(Clock::duration d) {
  // In double, so that a huge timeout times the scale cannot wrap: past the
  // clock's range the deadline is simply never.
  double scaled = static_cast<double>(d.count()) * TimeoutScale();
  if (!(scaled < static_cast<double>(Clock::duration::max().count()) / 2)) return Never();
  return AfterUnscaled(Clock::duration(static_cast<Clock::rep>(scaled)));
}

Deadline Deadline::AfterUnscaled(Clock::duration d) {
  auto now = Clock::now();
  if (d <= Clock::duration::zero()) return Deadline(now);
  if (d >= Clock::time_point::max() - now) return Never();
  return Deadline(now + d);
}

Clock::duration Deadline::Remaining() const {
  if (IsNever()) return Clock::duration::max();
  auto now = Clock::now();
  return now >= at_ ? Clock::duration::zero() : at_ - now;
}

int Deadline::PollTimeoutMs() const {
  if (IsNever()) return -1;
  auto left = Remaining();
  if (left == Clock::duration::zero()) return 0;
  auto ms = std::chrono::ceil<milliseconds>(left).count();
  return ms > std::numeric_limits<int>::max() ? std::numeric_limits<int>::max()
                                               : static_cast<int>(ms);
}

std::string FormatDuration(Clock::duration d) {
  char buf[32];
  double s = ToSeconds(d);
  if (s < 1.0) {
    std::snprintf(buf, sizeof buf, "%.0f ms", s * 1000);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f s", s);
  }
  return buf;
}

}  // namespace cpuhp
