// What the benchmark programs (framework/bench/*_bench.cc) share.
#pragma once

#include <algorithm>
#include <vector>

#include "util/deadline.h"

namespace cpuhp {

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

inline double Ms(Clock::duration d) { return ToSeconds(d) * 1000; }

}  // namespace cpuhp
