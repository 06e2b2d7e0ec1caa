// Timing helper shared by the micro-benchmarks: the median wall time of repeated calls, which
// a shared 2-core machine's stragglers move less than the mean.
#pragma once

#include <algorithm>
#include <chrono>
#include <vector>

namespace fedsign::bench {

// Calls f() `reps` times (reps >= 1) and returns the median duration in milliseconds.
template <class F>
double median_ms(int reps, F&& f) {
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                     .count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace fedsign::bench
