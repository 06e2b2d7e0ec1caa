// Class-balanced batches for metric learning: P distinct classes x K images each.
//
// Cost: the constructor groups the subset by class once (O(n)); next_batch() is O(P*K) amortized:
// each class keeps its own shuffled pool and a cursor, reshuffled only when used up, and classes
// are taken in turn from a shuffled cycle, so every class appears about equally often. No pass
// over the dataset per batch. Classes with fewer than K images repeat images within a batch.
// Not thread-safe; deterministic given the seed.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "fedsign/data/image_set.h"

namespace fedsign::train {

class BalancedBatchSampler {
 public:
  // `indices` into `set`. P is clamped to the number of classes present. Throws fedsign::Error if
  // `indices` is empty or P, K < 1.
  BalancedBatchSampler(const data::ImageSet& set, const data::Indices& indices,
                       int64_t classes_per_batch, int64_t images_per_class, uint64_t seed);

  // P*K indices: K of each of P distinct classes, grouped by class.
  data::Indices next_batch();

  int64_t classes_per_batch() const { return p_; }
  int64_t images_per_class() const { return k_; }
  int64_t batch_size() const { return p_ * k_; }
  std::size_t num_classes() const { return pools_.size(); }
  // Batches that together draw about as many images as the subset holds: ceil(n / (P*K)).
  int64_t batches_per_epoch() const;

 private:
  struct Pool {
    int32_t label = 0;
    data::Indices items;
    std::size_t cursor = 0;
  };
  void refill_class_cycle(const std::vector<std::size_t>& chosen);

  std::vector<Pool> pools_;
  std::vector<std::size_t> class_cycle_;  // positions into pools_
  std::size_t class_cursor_ = 0;
  int64_t p_ = 0, k_ = 0;
  std::size_t total_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace fedsign::train
