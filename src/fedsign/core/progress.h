// A thread-safe terminal progress bar ("label [=====>    ] 1234/5000 3.2s").
// Draws only when stderr is a terminal, so logs and CI output stay clean.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>

namespace fedsign {

class ProgressBar {
 public:
  ProgressBar(std::string label, std::size_t total, bool enabled = true);
  ~ProgressBar();
  void advance(std::size_t n = 1);  // thread-safe
  void finish();

 private:
  void draw(std::size_t done);
  std::string label_;
  std::size_t total_;
  bool enabled_;
  std::atomic<std::size_t> done_{0};
  std::mutex draw_mutex_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool finished_ = false;
};

}  // namespace fedsign
