// Class-balanced sampler: exact P x K batches of distinct classes, uniform class coverage, and
// linear cost (a large subset samples fast).
#include "fedsign/train/balanced_sampler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>

#include "fedsign/core/check.h"

namespace fedsign::train {
namespace {

// `counts[c]` images of class c (labels only; no pixels needed by the sampler).
data::ImageSet labelled(const std::vector<int>& counts) {
  data::ImageSet set;
  for (std::size_t c = 0; c < counts.size(); ++c)
    for (int i = 0; i < counts[c]; ++i) set.labels.push_back(static_cast<int32_t>(c));
  return set;
}

TEST(BalancedSampler, YieldsPDistinctClassesTimesK) {
  // Very unequal classes, including one smaller than K.
  const auto set = labelled({500, 3, 40, 120, 8, 60, 9, 200, 33, 70});
  BalancedBatchSampler sampler(set, data::all_indices(set), 4, 5, 7);
  EXPECT_EQ(sampler.batch_size(), 20);
  for (int b = 0; b < 200; ++b) {
    const data::Indices batch = sampler.next_batch();
    ASSERT_EQ(batch.size(), 20u);
    std::map<int, int> per_class;
    for (int64_t i : batch) ++per_class[set.labels[i]];
    ASSERT_EQ(per_class.size(), 4u) << "batch " << b;
    for (auto [label, n] : per_class) EXPECT_EQ(n, 5) << "class " << label;
  }
}

TEST(BalancedSampler, CoversClassesUniformly) {
  const auto set = labelled({1000, 5, 50, 300, 12, 80, 7});
  BalancedBatchSampler sampler(set, data::all_indices(set), 3, 2, 1);
  std::map<int, int> seen;
  const int batches = 7000;
  for (int b = 0; b < batches; ++b)
    for (int64_t i : sampler.next_batch()) ++seen[set.labels[i]];
  const double expected = batches * 3.0 * 2.0 / 7.0;  // 6000 per class
  ASSERT_EQ(seen.size(), 7u);
  for (auto [label, n] : seen) EXPECT_NEAR(n, expected, 0.02 * expected) << "class " << label;
}

TEST(BalancedSampler, UsesEveryImageOfAClassBeforeRepeating) {
  const auto set = labelled({6, 6});
  BalancedBatchSampler sampler(set, data::all_indices(set), 2, 3, 3);
  std::set<int64_t> first_two;
  for (int b = 0; b < 2; ++b)
    for (int64_t i : sampler.next_batch()) first_two.insert(i);
  EXPECT_EQ(first_two.size(), 12u);
}

TEST(BalancedSampler, SubsetOnlyAndDeterministic) {
  const auto set = labelled({50, 50, 50});
  data::Indices subset;
  for (int64_t i = 0; i < 150; i += 3) subset.push_back(i);
  BalancedBatchSampler a(set, subset, 2, 4, 9), b(set, subset, 2, 4, 9);
  const std::set<int64_t> allowed(subset.begin(), subset.end());
  for (int k = 0; k < 50; ++k) {
    const auto batch = a.next_batch();
    EXPECT_EQ(batch, b.next_batch());
    for (int64_t i : batch) EXPECT_TRUE(allowed.count(i));
  }
  EXPECT_EQ(a.batches_per_epoch(), 7);  // ceil(50 / 8)
}

TEST(BalancedSampler, ClampsPToTheClassesPresentAndRejectsBadInput) {
  const auto set = labelled({10, 10});
  BalancedBatchSampler sampler(set, data::all_indices(set), 8, 4, 1);
  EXPECT_EQ(sampler.classes_per_batch(), 2);
  EXPECT_EQ(sampler.next_batch().size(), 8u);
  EXPECT_THROW(BalancedBatchSampler(set, {}, 2, 2, 1), Error);
  EXPECT_THROW(BalancedBatchSampler(set, data::all_indices(set), 0, 2, 1), Error);
}

TEST(BalancedSampler, CostIsLinearNotQuadratic) {
  // 400k images in 43 classes: one epoch of batches must take well under a second (an earlier
  // sampler scanned the dataset per batch and took hours for an epoch).
  std::vector<int> counts(43, 0);
  for (int c = 0; c < 43; ++c) counts[c] = 200 + (c * 397) % 18000;
  const auto set = labelled(counts);
  const auto start = std::chrono::steady_clock::now();
  BalancedBatchSampler sampler(set, data::all_indices(set), 16, 8, 1);
  std::size_t drawn = 0;
  for (int64_t b = 0; b < sampler.batches_per_epoch(); ++b) drawn += sampler.next_batch().size();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(drawn, set.size());
  EXPECT_LT(seconds, 2.0);
}

}  // namespace
}  // namespace fedsign::train
