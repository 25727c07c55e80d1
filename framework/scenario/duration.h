// Durations as scenarios and the command line write them: "90s", "500ms",
// "2m", "1h", "1.5s", or a bare number of seconds.
#pragma once

#include <optional>
#include <string_view>

#include "util/deadline.h"

namespace cpuhp {

// nullopt when `text` is not a non-negative duration.
std::optional<Clock::duration> ParseDuration(std::string_view text);

}  // namespace cpuhp
