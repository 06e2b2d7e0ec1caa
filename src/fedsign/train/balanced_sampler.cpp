#include "fedsign/train/balanced_sampler.h"

#include <algorithm>
#include <map>

#include "fedsign/core/check.h"

namespace fedsign::train {

BalancedBatchSampler::BalancedBatchSampler(const data::ImageSet& set, const data::Indices& indices,
                                           int64_t classes_per_batch, int64_t images_per_class,
                                           uint64_t seed)
    : k_(images_per_class), total_(indices.size()), rng_(seed) {
  FEDSIGN_CHECK(!indices.empty(), "balanced sampler: empty subset");
  FEDSIGN_CHECK(classes_per_batch >= 1 && images_per_class >= 1,
                "balanced sampler: classes per batch ({}) and images per class ({}) must be >= 1",
                classes_per_batch, images_per_class);
  std::map<int32_t, std::size_t> position;  // label -> pools_ slot (O(n log C) once)
  for (int64_t i : indices) {
    const int32_t label = set.labels.at(static_cast<std::size_t>(i));
    auto [it, inserted] = position.emplace(label, pools_.size());
    if (inserted) pools_.push_back({label, {}, 0});
    pools_[it->second].items.push_back(i);
  }
  // Deterministic class order regardless of index order; each pool starts shuffled.
  std::sort(pools_.begin(), pools_.end(), [](const Pool& a, const Pool& b) { return a.label < b.label; });
  for (auto& pool : pools_) std::shuffle(pool.items.begin(), pool.items.end(), rng_);
  p_ = std::min<int64_t>(classes_per_batch, static_cast<int64_t>(pools_.size()));
  refill_class_cycle({});
}

int64_t BalancedBatchSampler::batches_per_epoch() const {
  const auto b = static_cast<std::size_t>(batch_size());
  return static_cast<int64_t>((total_ + b - 1) / b);
}

void BalancedBatchSampler::refill_class_cycle(const std::vector<std::size_t>& chosen) {
  // A new random order of all classes; the ones already in the current batch go last so the
  // batch stays distinct and they keep their turn later in this cycle.
  class_cycle_.resize(pools_.size());
  for (std::size_t c = 0; c < pools_.size(); ++c) class_cycle_[c] = c;
  std::shuffle(class_cycle_.begin(), class_cycle_.end(), rng_);
  if (!chosen.empty()) {
    std::stable_partition(class_cycle_.begin(), class_cycle_.end(), [&](std::size_t c) {
      return std::find(chosen.begin(), chosen.end(), c) == chosen.end();
    });
  }
  class_cursor_ = 0;
}

data::Indices BalancedBatchSampler::next_batch() {
  std::vector<std::size_t> chosen;
  chosen.reserve(static_cast<std::size_t>(p_));
  while (static_cast<int64_t>(chosen.size()) < p_) {
    if (class_cursor_ == class_cycle_.size()) refill_class_cycle(chosen);
    chosen.push_back(class_cycle_[class_cursor_++]);
  }
  data::Indices batch;
  batch.reserve(static_cast<std::size_t>(p_ * k_));
  for (std::size_t c : chosen) {
    Pool& pool = pools_[c];
    for (int64_t j = 0; j < k_; ++j) {
      if (pool.cursor == pool.items.size()) {
        std::shuffle(pool.items.begin(), pool.items.end(), rng_);
        pool.cursor = 0;
      }
      batch.push_back(pool.items[pool.cursor++]);
    }
  }
  return batch;
}

}  // namespace fedsign::train
