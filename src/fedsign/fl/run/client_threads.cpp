#include "fedsign/fl/run/client_threads.h"

#include "fedsign/core/check.h"

namespace fedsign::fl {

ClientThreads::ClientThreads(int slots, std::function<void(int)> on_start) {
  FEDSIGN_CHECK(slots >= 1, "parallel clients must be >= 1, got {}", slots);
  for (int slot = 0; slot < slots; ++slot) {
    threads_.emplace_back([this, slot, on_start] { loop(slot, on_start); });
  }
}

ClientThreads::~ClientThreads() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  for (auto& t : threads_) t.join();
}

void ClientThreads::loop(int slot, const std::function<void(int)>& on_start) {
  if (on_start) on_start(slot);
  std::unique_lock lock(mutex_);
  while (true) {
    const std::size_t window = 2 * threads_.size();
    changed_.wait(lock, [&] {
      return stopping_ || (work_ && next_ < n_ && next_ < consumed_ + window);
    });
    if (stopping_) return;
    const std::size_t i = next_++;
    ++running_;
    const auto* work = work_;
    lock.unlock();
    std::exception_ptr error;
    try {
      (*work)(i, slot);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    errors_[i] = error;
    done_[i] = 1;
    --running_;
    changed_.notify_all();
  }
}

void ClientThreads::run(std::size_t n, const std::function<void(std::size_t, int)>& work,
                        const std::function<void(std::size_t)>& consume) {
  {
    std::lock_guard lock(mutex_);
    work_ = &work;
    n_ = n;
    next_ = consumed_ = running_ = 0;
    done_.assign(n, 0);
    errors_.assign(n, nullptr);
  }
  changed_.notify_all();
  // Ends the job: no new work starts, and what runs finishes before `work` goes out of scope.
  auto finish = [&] {
    std::unique_lock lock(mutex_);
    n_ = next_;
    changed_.wait(lock, [&] { return running_ == 0; });
    work_ = nullptr;
  };
  try {
    for (std::size_t i = 0; i < n; ++i) {
      std::exception_ptr error;
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return done_[i] != 0; });
        error = errors_[i];
      }
      if (error) std::rethrow_exception(error);
      consume(i);
      {
        std::lock_guard lock(mutex_);
        consumed_ = i + 1;
      }
      changed_.notify_all();
    }
  } catch (...) {
    finish();
    throw;
  }
  finish();
}

}  // namespace fedsign::fl
