#include "scenario/duration.h"

#include <charconv>
#include <cmath>

namespace cpuhp {

std::optional<Clock::duration> ParseDuration(std::string_view text) {
  while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  size_t unit_at = text.find_first_not_of("0123456789.");
  std::string_view number = text.substr(0, unit_at);
  std::string_view unit = unit_at == std::string_view::npos ? "" : text.substr(unit_at);
  if (number.empty()) return std::nullopt;
  double value = 0;
  auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || ptr != number.data() + number.size() || !std::isfinite(value)) {
    return std::nullopt;
  }
  double seconds;
  if (unit.empty() || unit == "s")
    seconds = value;
  else if (unit == "ms")
    seconds = value / 1000;
  else if (unit == "m" || unit == "min")
    seconds = value * 60;
  else if (unit == "h")
    seconds = value * 3600;
  else
    return std::nullopt;
  // duration_cast of a double beyond the target's range is undefined (in
  // practice a negative duration), so clamp first, with room for rounding:
  // anything past half the range (146 years) is far over any limit anyway.
  if (!(seconds < ToSeconds(Clock::duration::max()) / 2)) return Clock::duration::max();
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

Clock::duration SaturatingAdd(Clock::duration a, Clock::duration b) {
  Clock::rep sum;
  if (__builtin_add_overflow(a.count(), b.count(), &sum)) return Clock::duration::max();
  return Clock::duration(sum);
}

Clock::duration SaturatingMultiply(Clock::duration d, long long n) {
  Clock::rep product;
  if (__builtin_mul_overflow(d.count(), n, &product)) return Clock::duration::max();
  return Clock::duration(product);
}

}  // namespace cpuhp
