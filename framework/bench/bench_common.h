// What the benchmark programs (framework/bench/*_bench.cc) share.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "util/deadline.h"

namespace cpuhp {

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n == 0 ? 0 : n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

inline double Ms(Clock::duration d) { return ToSeconds(d) * 1000; }

// --runs N from the command line, else `fallback`.
inline int RunsFlag(int argc, char** argv, int fallback = 10) {
  int runs = fallback;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = std::atoi(argv[++i]);
  }
  return runs;
}

}  // namespace cpuhp
