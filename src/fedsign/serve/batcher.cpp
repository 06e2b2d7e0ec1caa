#include "fedsign/serve/batcher.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstring>

#include "fedsign/core/check.h"

namespace fedsign::serve {

MicroBatcher::MicroBatcher(const BatcherOptions& options, const ModelStore& store,
                           std::function<void(std::int64_t)> on_batch)
    : options_(options), store_(store), on_batch_(std::move(on_batch)) {
  FEDSIGN_CHECK(options_.max_batch >= 1, "max batch must be at least 1, got {}", options_.max_batch);
  FEDSIGN_CHECK(options_.max_queue >= 1, "max queue must be at least 1, got {}", options_.max_queue);
  FEDSIGN_CHECK(options_.threads_per_worker >= 1, "threads per worker must be at least 1, got {}",
                options_.threads_per_worker);
  int n = options_.workers > 0 ? options_.workers
                               : static_cast<int>(std::thread::hardware_concurrency());
  n = std::max(n, 1);
  for (int i = 0; i < n; ++i) workers_.emplace_back([this] { work(); });
}

MicroBatcher::~MicroBatcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    paused_ = false;
  }
  cv_.notify_all();
  for (auto& w : workers_) w.join();
}

void MicroBatcher::announce() {
  std::lock_guard lock(mutex_);
  ++announced_;
}

void MicroBatcher::withdraw() {
  {
    std::lock_guard lock(mutex_);
    announced_ = std::max(0, announced_ - 1);
  }
  cv_.notify_all();  // a worker waiting for this request stops waiting
}

std::optional<std::future<BatchAnswer>> MicroBatcher::submit(std::vector<std::uint8_t> pixels,
                                                             std::int64_t count, int top_k) {
  std::future<BatchAnswer> future;
  {
    std::lock_guard lock(mutex_);
    announced_ = std::max(0, announced_ - 1);
    if (queued_images_ + count > options_.max_queue || stopping_) {
      cv_.notify_all();
      return std::nullopt;
    }
    Job job{std::move(pixels), count, top_k, {}};
    future = job.promise.get_future();
    queue_.push_back(std::move(job));
    queued_images_ += count;
  }
  cv_.notify_all();
  return future;
}

std::int64_t MicroBatcher::queued_images() const {
  std::lock_guard lock(mutex_);
  return queued_images_;
}

void MicroBatcher::pause() {
  std::lock_guard lock(mutex_);
  paused_ = true;
}

void MicroBatcher::resume() {
  {
    std::lock_guard lock(mutex_);
    paused_ = false;
  }
  cv_.notify_all();
}

void MicroBatcher::take_locked(std::vector<Job>& batch, std::int64_t& images) {
  while (!queue_.empty() && !paused_ &&
         (images == 0 || images + queue_.front().count <= options_.max_batch)) {
    images += queue_.front().count;
    queued_images_ -= queue_.front().count;
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
}

void MicroBatcher::work() {
  // OpenMP's thread count is per calling thread: set it in each worker.
  torch::set_num_threads(options_.threads_per_worker);
  for (;;) {
    std::vector<Job> batch;
    std::int64_t images = 0;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || (!paused_ && !queue_.empty()); });
      if (stopping_ && queue_.empty()) return;
      take_locked(batch, images);
      if (options_.max_batch > 1) {
        const auto deadline = std::chrono::steady_clock::now() + options_.max_wait;
        while (images < options_.max_batch && announced_ > 0 && !stopping_ &&
               (queue_.empty() || images + queue_.front().count <= options_.max_batch)) {
          if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) break;
          take_locked(batch, images);
        }
        take_locked(batch, images);
      }
    }
    if (!batch.empty()) run(batch, images);
  }
}

void MicroBatcher::run(std::vector<Job>& batch, std::int64_t images) {
  BatchAnswer shared;
  shared.model = store_.current();
  shared.batch_images = images;
  std::vector<std::vector<train::ClassScore>> scores;
  try {
    const std::size_t image_bytes = shared.model->predictor.image_bytes();
    int k = 1;
    for (const auto& job : batch) {
      k = std::max(k, job.top_k);
      // Decoded for the version current at decode time; a reload may change the input size.
      FEDSIGN_CHECK(job.pixels.size() == static_cast<std::size_t>(job.count) * image_bytes,
                    "the model's input size changed during the request; send it again");
    }
    if (batch.size() == 1) {
      scores = shared.model->predictor.classify(batch[0].pixels.data(), images, k);
    } else {
      std::vector<std::uint8_t> pixels(static_cast<std::size_t>(images) * image_bytes);
      std::size_t offset = 0;
      for (const auto& job : batch) {
        std::memcpy(pixels.data() + offset, job.pixels.data(), job.pixels.size());
        offset += job.pixels.size();
      }
      scores = shared.model->predictor.classify(pixels.data(), images, k);
    }
  } catch (const std::exception& e) {
    shared.error = e.what();
  }
  if (on_batch_) on_batch_(images);
  std::size_t next = 0;
  for (auto& job : batch) {
    BatchAnswer answer{shared.model, {}, shared.error, images};
    if (shared.error.empty()) {
      for (std::int64_t i = 0; i < job.count; ++i) {
        auto& top = scores[next++];
        top.resize(std::min<std::size_t>(top.size(), static_cast<std::size_t>(job.top_k)));
        answer.scores.push_back(std::move(top));
      }
    }
    job.promise.set_value(std::move(answer));
  }
}

}  // namespace fedsign::serve
