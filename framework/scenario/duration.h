// Durations as scenarios and the command line write them: "90s", "500ms",
// "2m", "1h", "1.5s", or a bare number of seconds.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

#include "util/deadline.h"

namespace cpuhp {

// The longest duration a scenario may write. A month is longer than any test
// should run, and far enough below Clock::duration's ~292 years that the sums
// and products the loader derives from a few of them stay in range.
inline constexpr std::chrono::hours kMaxScenarioDuration{24 * 30};

// nullopt when `text` is not a non-negative duration. A value beyond what
// Clock::duration holds reads as Clock::duration::max() (callers compare
// against kMaxScenarioDuration), never as an overflowed, negative one.
std::optional<Clock::duration> ParseDuration(std::string_view text);

// a + b and a * n, saturating at Clock::duration::max() (the inputs are not
// negative): for deadlines derived from many steps or many iterations.
Clock::duration SaturatingAdd(Clock::duration a, Clock::duration b);
Clock::duration SaturatingMultiply(Clock::duration d, long long n);

}  // namespace cpuhp
