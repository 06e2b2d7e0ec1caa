// Dynamic micro-batching for `fedsign serve`: HTTP threads decode their images and submit them
// as a job; a pool of inference workers (one per core by default) takes jobs from a bounded
// queue, merges consecutive jobs into one forward pass of at most max_batch images, and hands
// each job its own answers.
//
// When to wait: a worker that has taken what is queued waits (at most max_wait) for more only
// while other requests are still being decoded (announced, not yet submitted): those are the
// ones about to arrive. A lone request (concurrency 1) thus never waits, and under load the
// queue fills while the workers compute, so batches form without waiting at all.
// max_batch 1 turns merging off (each job is its own forward pass).
//
// Thread-safe. Jobs are never split; a job larger than max_batch runs alone.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fedsign/serve/model_store.h"

namespace fedsign::serve {

struct BatcherOptions {
  int max_batch = 64;                         // images per forward pass
  std::chrono::microseconds max_wait{2000};   // longest wait for more jobs (see above)
  std::int64_t max_queue = 256;               // images waiting; beyond: submit() refuses
  int workers = 0;                            // inference threads; 0: one per core
  int threads_per_worker = 1;                 // LibTorch intra-op threads of each worker
};

struct BatchAnswer {
  std::shared_ptr<const ServedModel> model;             // the version that answered
  std::vector<std::vector<train::ClassScore>> scores;   // one per image of the job
  std::string error;                                    // non-empty: inference failed
  std::int64_t batch_images = 0;                        // size of the forward pass it was in
};

class MicroBatcher {
 public:
  // `on_batch(images)` is called after each forward pass (for metrics); may be empty.
  MicroBatcher(const BatcherOptions& options, const ModelStore& store,
               std::function<void(std::int64_t)> on_batch = {});
  ~MicroBatcher();
  MicroBatcher(const MicroBatcher&) = delete;
  MicroBatcher& operator=(const MicroBatcher&) = delete;

  // A request started decoding images it will submit (or withdraw on failure).
  void announce();
  void withdraw();
  // Queues `count` decoded images (announced before); nullopt when the queue is full.
  std::optional<std::future<BatchAnswer>> submit(std::vector<std::uint8_t> pixels,
                                                 std::int64_t count, int top_k);

  std::int64_t queued_images() const;
  int workers() const { return static_cast<int>(workers_.size()); }
  const BatcherOptions& options() const { return options_; }

  // Workers stop taking jobs until resume() (jobs queue meanwhile). For draining and tests.
  void pause();
  void resume();

 private:
  struct Job {
    std::vector<std::uint8_t> pixels;
    std::int64_t count = 0;
    int top_k = 1;
    std::promise<BatchAnswer> promise;
  };
  void work();
  // Moves queued jobs into `batch` while they fit. Needs mutex_.
  void take_locked(std::vector<Job>& batch, std::int64_t& images);
  void run(std::vector<Job>& batch, std::int64_t images);

  BatcherOptions options_;
  const ModelStore& store_;
  std::function<void(std::int64_t)> on_batch_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Job> queue_;
  std::int64_t queued_images_ = 0;
  int announced_ = 0;
  bool paused_ = false, stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace fedsign::serve
