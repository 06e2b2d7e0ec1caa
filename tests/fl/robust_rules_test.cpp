// The robust aggregation rules (fl/robust/robust_rules.h) against values computed by hand:
// median with odd and even counts and ties, trimmed mean, Krum scores and selection (Krum keeps
// a benign update among planted outliers), norm clipping, adaptive clipping, FLTrust and the
// cosine filter (with its output-layer test).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "fedsign/core/check.h"
#include "fedsign/fl/robust/flat_update.h"
#include "fedsign/fl/robust/robust_rules.h"
#include "fedsign/fl/update.h"

namespace fedsign::fl::robust {
namespace {

torch::Tensor vec(std::vector<float> v) { return torch::tensor(v); }

std::vector<float> values(const torch::Tensor& t) {
  auto c = t.to(torch::kFloat32).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

void expect_near(const torch::Tensor& got, std::vector<double> want, double tol = 1e-6) {
  const auto v = values(got);
  ASSERT_EQ(v.size(), want.size());
  for (std::size_t i = 0; i < v.size(); ++i) EXPECT_NEAR(v[i], want[i], tol) << "value " << i;
}

// Five updates of four coordinates; the by-hand results below sort each column.
Updates five() {
  return {vec({1, 5, -2, 0}), vec({3, 1, -2, 7}), vec({2, 2, 4, 7}), vec({10, -1, 0, 7}),
          vec({-100, 0, 1, 1})};
}

TEST(RobustRules, MedianOddEvenAndTies) {
  Updates u = five();
  // Odd (first three): columns {1,3,2} {5,1,2} {-2,-2,4} {0,7,7} -> 2, 2, -2 (tie), 7 (tie).
  EXPECT_EQ(values(coordinate_median({u[0], u[1], u[2]})), (std::vector<float>{2, 2, -2, 7}));
  // Even (first four): the mean of the two middle values: {1,2,3,10} -> 2.5, {-1,1,2,5} -> 1.5,
  // {-2,-2,0,4} -> -1, {0,7,7,7} -> 7.
  EXPECT_EQ(values(coordinate_median({u[0], u[1], u[2], u[3]})),
            (std::vector<float>{2.5f, 1.5f, -1.0f, 7.0f}));
  // One update: itself; two: their mean.
  EXPECT_EQ(values(coordinate_median({u[4]})), values(u[4]));
  EXPECT_EQ(values(coordinate_median({u[0], u[1]})), (std::vector<float>{2, 3, -2, 3.5f}));
  // Column chunks join up: a vector longer than one chunk gives the chunk-free result.
  const int64_t d = kColumnChunk + 5;
  Updates big = {torch::full({d}, 1.0f), torch::full({d}, 3.0f), torch::arange(d).to(torch::kFloat32)};
  const torch::Tensor m = coordinate_median(big);
  EXPECT_EQ(m[0].item<float>(), 1.0f);
  EXPECT_EQ(m[2].item<float>(), 2.0f);
  EXPECT_EQ(m[d - 1].item<float>(), 3.0f);
  EXPECT_THROW(coordinate_median({}), fedsign::Error);
  EXPECT_THROW(coordinate_median({vec({1, 2}), vec({1})}), fedsign::Error);
}

TEST(RobustRules, TrimmedMean) {
  Updates u = five();
  // beta 0.2 of 5: k = 1 per side. Sorted columns {-100,1,2,3,10} -> 2, {-1,0,1,2,5} -> 1,
  // {-2,-2,0,1,4} -> -1/3, {0,1,7,7,7} -> 5.
  expect_near(trimmed_mean(u, 0.2), {2, 1, -1.0 / 3, 5});
  // beta 0.1: k = 0, the plain mean; beta 0.4: k = 2, the median.
  expect_near(trimmed_mean(u, 0.1), {-84.0 / 5, 7.0 / 5, 1.0 / 5, 22.0 / 5});
  EXPECT_TRUE(torch::equal(trimmed_mean(u, 0.4), coordinate_median(u)));
  EXPECT_EQ(trimmed_count(10, 0.1), 1);
  EXPECT_EQ(trimmed_count(10, 0.25), 2);
  EXPECT_THROW(trimmed_mean(u, 0.5), fedsign::Error);
  EXPECT_THROW(trimmed_mean(u, -0.1), fedsign::Error);
}

TEST(RobustRules, KrumScoresAndMultiKrumByHand) {
  // a=(0,0) b=(1,0) c=(0,2) d=(10,10) e=(-9,0); squared distances: ab 1, ac 4, ad 200, ae 81,
  // bc 5, bd 181, be 100, cd 164, ce 85, de 461. f = 1 -> 5 - 1 - 2 = 2 nearest neighbours.
  Updates u = {vec({0, 0}), vec({1, 0}), vec({0, 2}), vec({10, 10}), vec({-9, 0})};
  const std::vector<double> scores = krum_scores(u, 1);
  EXPECT_EQ(scores, (std::vector<double>{5, 6, 9, 345, 166}));
  const std::vector<double> weights = {1, 1, 2, 1, 1};
  KrumResult krum = multi_krum(u, weights, 1, 1);
  EXPECT_EQ(krum.selected, (std::vector<int64_t>{0}));
  EXPECT_EQ(values(krum.update), (std::vector<float>{0, 0}));
  // m = 3: a, b, c weighted 1, 1, 2 -> ((0,0) + (1,0) + 2 (0,2)) / 4 = (0.25, 1).
  KrumResult multi = multi_krum(u, weights, 1, 3);
  EXPECT_EQ(multi.selected, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(values(multi.update), (std::vector<float>{0.25f, 1.0f}));
  // m <= 0: n - f = 4, the outlier d is the one left out.
  EXPECT_EQ(multi_krum(u, weights, 1, 0).selected, (std::vector<int64_t>{0, 1, 2, 4}));
  EXPECT_THROW(krum_scores(u, 3), fedsign::Error);  // 5 - 3 - 2 = 0 neighbours
}

TEST(RobustRules, KrumPicksABenignUpdateAmongOutliers) {
  // 7 benign updates near a common direction, 3 planted attackers: flipped, boosted, noise.
  torch::manual_seed(11);
  const int64_t d = 200;
  const torch::Tensor direction = torch::randn({d});
  Updates u;
  for (int i = 0; i < 7; ++i) u.push_back(direction + 0.1 * torch::randn({d}));
  u.push_back(-direction * 3);
  u.push_back(direction * 10);
  u.push_back(torch::randn({d}) * 2);
  const std::vector<double> weights(10, 1.0);
  for (int64_t f : {1, 2, 3}) {
    KrumResult r = multi_krum(u, weights, f, 1);
    ASSERT_EQ(r.selected.size(), 1u);
    EXPECT_LT(r.selected[0], 7) << "f = " << f;
    // Multi-Krum with m = n - f keeps only benign updates when f covers the attackers.
    if (f == 3) {
      for (int64_t i : multi_krum(u, weights, f, 0).selected) EXPECT_LT(i, 7);
    }
  }
  // The plain mean is dragged far off; Krum's choice stays close to the benign direction.
  const double krum_err = (multi_krum(u, weights, 3, 1).update - direction).norm().item<double>();
  const double mean_err = (weighted_mean(u, weights) - direction).norm().item<double>();
  EXPECT_LT(krum_err, 2 * 0.1 * std::sqrt(static_cast<double>(d)));  // one benign's noise
  EXPECT_GT(mean_err, 3 * krum_err);
}

TEST(RobustRules, ClippingFixedAndAdaptive) {
  EXPECT_EQ(values(clip_to_norm(vec({3, 4}), 1.0)), (std::vector<float>{0.6f, 0.8f}));
  EXPECT_EQ(values(clip_to_norm(vec({3, 4}), 5.0)), (std::vector<float>{3, 4}));
  EXPECT_EQ(values(clip_to_norm(vec({3, 4}), 10.0)), (std::vector<float>{3, 4}));
  EXPECT_DOUBLE_EQ(clip_factor(5.0, 2.0), 0.4);
  EXPECT_THROW(clip_factor(1.0, 0.0), fedsign::Error);
  // C <- C exp(-lr (b - gamma)): 80% unclipped with target 50% shrinks the bound ...
  EXPECT_DOUBLE_EQ(adaptive_clip_bound(1.0, 0.8, 0.5, 0.2), std::exp(-0.06));
  // ... 20% unclipped grows it, and on target it stays.
  EXPECT_DOUBLE_EQ(adaptive_clip_bound(2.0, 0.2, 0.5, 0.2), 2.0 * std::exp(0.06));
  EXPECT_DOUBLE_EQ(adaptive_clip_bound(2.0, 0.5, 0.5, 0.2), 2.0);
  // Repeated rounds on fixed norms settle the bound near the target quantile of the norms.
  const std::vector<double> norms = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  double bound = 0.1;
  for (int round = 0; round < 300; ++round) {
    int unclipped = 0;
    for (double n : norms) unclipped += n <= bound ? 1 : 0;
    bound = adaptive_clip_bound(bound, unclipped / 10.0, 0.5, 0.2);
  }
  EXPECT_GT(bound, 4.0);
  EXPECT_LT(bound, 6.5);
}

TEST(RobustRules, FlTrustByHand) {
  // g0 = (1, 0): (2,0) trust 1 rescaled to (1,0); (0,3) trust 0; (-1,0) trust 0 (cos -1);
  // (3,4) trust 0.6 rescaled to (0.6,0.8). Result (1 (1,0) + 0.6 (0.6,0.8)) / 1.6 = (0.85, 0.3).
  Updates u = {vec({2, 0}), vec({0, 3}), vec({-1, 0}), vec({3, 4})};
  FlTrustResult r = fltrust(u, vec({1, 0}));
  expect_near(r.update, {0.85, 0.3});
  ASSERT_EQ(r.trust.size(), 4u);
  EXPECT_DOUBLE_EQ(r.trust[0], 1.0);
  EXPECT_DOUBLE_EQ(r.trust[1], 0.0);
  EXPECT_DOUBLE_EQ(r.trust[2], 0.0);
  EXPECT_NEAR(r.trust[3], 0.6, 1e-12);
  // Norms are matched to g0: scaling a client's update changes nothing.
  Updates boosted = u;
  boosted[3] = boosted[3] * 100;
  expect_near(fltrust(boosted, vec({1, 0})).update, {0.85, 0.3}, 1e-5);
  // Nobody trusted (all opposed to g0): a zero update.
  EXPECT_EQ(values(fltrust({vec({-1, 0}), vec({0, -2})}, vec({1, 0})).update),
            (std::vector<float>{0, 0}));
  EXPECT_THROW(fltrust(u, vec({1, 0, 0})), fedsign::Error);
}

TEST(RobustRules, CosineFilterByHand) {
  // Median of (2,0) (1,1) (1,-1) (-2,0) (3,0) is (1,0). Cosines: 1, 0.707, 0.707, -1, 1; the
  // flipped (-2,0) is dropped and the rest averaged by weight 1, 1, 2, -, 1:
  // ((2,0) + (1,1) + 2 (1,-1) + (3,0)) / 5 = (1.6, -0.2).
  Updates u = {vec({2, 0}), vec({1, 1}), vec({1, -1}), vec({-2, 0}), vec({3, 0})};
  const std::vector<double> w = {1, 1, 2, 5, 1};
  CosineFilterResult r = cosine_filter(u, w, {});
  expect_near(r.update, {1.6, -0.2});
  ASSERT_EQ(r.cosine.size(), 5u);
  EXPECT_NEAR(r.cosine[1], std::sqrt(0.5), 1e-9);
  EXPECT_NEAR(r.cosine[3], -1.0, 1e-12);
  EXPECT_EQ(r.kept, (std::vector<int64_t>{0, 1, 2, 4}));
  EXPECT_EQ(r.dropped, (std::vector<bool>{false, false, false, true, false}));
  EXPECT_EQ(r.duplicates, 0);
  // A higher threshold keeps only the updates along the median: ((2,0) + (3,0)) / 2.
  CosineFilterOptions strict;
  strict.threshold = 0.8;
  expect_near(cosine_filter(u, w, strict).update, {2.5, 0});
  // Near copies: (2,0) and (3,0) point the same way (cosine 1), so at duplicate cosine 0.999 both
  // go and ((1,1) + 2 (1,-1)) / 3 = (1, -1/3) is left.
  CosineFilterOptions copies;
  copies.duplicate_cosine = 0.999;
  CosineFilterResult c = cosine_filter(u, w, copies);
  expect_near(c.update, {1, -1.0 / 3});
  EXPECT_EQ(c.duplicates, 2);
  // A client caught in an earlier round stays out although (1,1) points along the median now:
  // ((2,0) + 2 (1,-1) + (3,0)) / 4 = (1.75, -0.5); it is not "dropped" by this round's tests.
  CosineFilterResult remembered = cosine_filter(u, w, {}, {false, true, false, false, false});
  expect_near(remembered.update, {1.75, -0.5});
  EXPECT_EQ(remembered.kept, (std::vector<int64_t>{0, 2, 4}));
  EXPECT_FALSE(remembered.dropped[1]);
  // Nothing kept (all updates zero): a zero update, not a division by zero.
  EXPECT_EQ(values(cosine_filter({vec({0, 0}), vec({0, 0})}, {1, 1}, {}).update),
            (std::vector<float>{0, 0}));
  CosineFilterOptions bad;
  bad.threshold = 1.0;
  EXPECT_THROW(cosine_filter(u, w, bad), fedsign::Error);
  EXPECT_THROW(cosine_filter(u, {1, 1}, {}), fedsign::Error);
  EXPECT_THROW(cosine_filter(u, w, {}, {true}), fedsign::Error);
}

// Two "feature" values and two "output layer" values per update. The last update agrees with the
// round on its features and points against it in its output layer, as a label flipper's does:
// only the output-layer test drops it.
TEST(RobustRules, CosineFilterOutputLayerTest) {
  const Updates u = {vec({2, 0, 1, 0}), vec({2, 0.5, 1, 1}), vec({2, -0.5, 0, 1}),
                     vec({3, 0, 1, 1}), vec({2, 0, -1, -1})};
  const std::vector<double> w(5, 1.0);
  // The median is (2, 0, 1, 1): every whole-update cosine is positive, so all five are kept.
  CosineFilterResult whole = cosine_filter(u, w, {});
  expect_near(whole.update, {2.2, 0, 0.4, 0.4});
  EXPECT_TRUE(whole.head_cosine.empty());
  CosineFilterOptions head;
  head.head_offset = 2;
  head.head_length = 2;
  CosineFilterResult r = cosine_filter(u, w, head);
  // (-1, -1) against the median's (1, 1): cosine -1; the mean of the other four is
  // (9, 0, 3, 3) / 4.
  ASSERT_EQ(r.head_cosine.size(), 5U);
  EXPECT_NEAR(r.head_cosine[4], -1.0, 1e-12);
  EXPECT_NEAR(r.head_cosine[0], 1.0 / std::sqrt(2.0), 1e-12);
  EXPECT_GT(r.cosine[4], 0.0);
  EXPECT_EQ(r.head_dropped, 1);
  EXPECT_EQ(r.kept, (std::vector<int64_t>{0, 1, 2, 3}));
  expect_near(r.update, {2.25, 0, 0.75, 0.75});
  head.head_offset = 3;  // [3, 5) runs past the 4 values
  EXPECT_THROW(cosine_filter(u, w, head), fedsign::Error);
}

TEST(RobustRules, OutputLayerRangeIsTheLastLinearsTensors) {
  Weights layout;
  layout.names = {"conv.weight", "bn.num_batches_tracked", "head.weight", "head.bias",
                  "bn.running_mean"};
  layout.tensors = {torch::zeros({1, 1, 1, 2}), torch::tensor(int64_t{0}), torch::zeros({3, 2}),
                    torch::zeros({3}), torch::zeros({2})};
  const FlatRange r = output_layer_range(layout);
  EXPECT_EQ(r.offset, 2);  // after conv.weight's 2 values; the integer counter is not in updates
  EXPECT_EQ(r.length, 9);  // head.weight 6 + head.bias 3, not the buffer after them
  Weights no_linear;
  no_linear.names = {"conv.weight"};
  no_linear.tensors = {torch::zeros({1, 1, 1, 2})};
  EXPECT_THROW(output_layer_range(no_linear), fedsign::Error);
  Weights split;
  split.names = {"fc.weight", "other.bias", "fc.bias"};
  split.tensors = {torch::zeros({2, 2}), torch::zeros({2}), torch::zeros({2})};
  EXPECT_THROW(output_layer_range(split), fedsign::Error);
}

TEST(RobustRules, LabelRecallAndLowOutliers) {
  // Labels predicted: {0, 1, 3}; the images of those classes are 0, 1, 2, 3 and 5 (not 4, of
  // class 2, which the model never names), and it is right on 0, 2 and 5: 3 / 5.
  EXPECT_DOUBLE_EQ(label_recall({0, 0, 1, 1, 2, 3}, {0, 1, 1, 0, 1, 3}).recall, 0.6);
  EXPECT_EQ(label_recall({0, 0, 1, 1, 2, 3}, {0, 1, 1, 0, 1, 3}).images, 5);
  EXPECT_DOUBLE_EQ(label_recall({0, 0, 1, 1}, {1, 1, 0, 0}).recall, 0.0);  // a flipper's model
  EXPECT_EQ(label_recall({0, 1}, {2, 2}).images, 0);  // names no root image's class
  EXPECT_DOUBLE_EQ(label_recall({0, 1}, {2, 2}).recall, 0.0);
  EXPECT_EQ(label_recall({}, {}).images, 0);
  EXPECT_THROW(label_recall({0, 1}, {0}), fedsign::Error);
  // Even count: median (0.6 + 0.7) / 2 = 0.65, half of it 0.325.
  EXPECT_EQ(low_outliers({0.8, 0.1, 0.6, 0.7}, 0.5), (std::vector<bool>{false, true, false, false}));
  // Odd count: median 0.5; exactly at ratio x median is not below it.
  EXPECT_EQ(low_outliers({0.9, 0.5, 0.2}, 0.5), (std::vector<bool>{false, false, true}));
  EXPECT_EQ(low_outliers({0.5, 1, 1}, 0.5), (std::vector<bool>{false, false, false}));
  EXPECT_TRUE(low_outliers({}, 0.5).empty());
  EXPECT_DOUBLE_EQ(median_of({0.8, 0.1, 0.6, 0.7}), 0.65);
  EXPECT_DOUBLE_EQ(median_of({0.9, 0.5, 0.2}), 0.5);
  EXPECT_DOUBLE_EQ(median_of({}), 0.0);
  EXPECT_THROW(low_outliers({1}, 0.0), fedsign::Error);
  EXPECT_THROW(low_outliers({1}, 1.5), fedsign::Error);
  EXPECT_THROW(low_outliers({1, std::nan("")}, 0.5), fedsign::Error);
}

TEST(RobustRules, FlatDeltasSkipIntegerTensors) {
  Weights g, w;
  g.names = w.names = {"a.weight", "bn.num_batches_tracked", "bn.running_mean"};
  g.tensors = {torch::tensor({1.0f, 2.0f}), torch::tensor(int64_t{5}), torch::tensor({0.5f})};
  w.tensors = {torch::tensor({2.0f, 0.0f}), torch::tensor(int64_t{9}), torch::tensor({1.5f})};
  const torch::Tensor d = flat_delta(g, w);
  EXPECT_EQ(values(d), (std::vector<float>{1, -2, 1}));
  EXPECT_DOUBLE_EQ(delta_norm(g, w), std::sqrt(6.0));
  Weights integers;
  integers.names = {"bn.num_batches_tracked"};
  integers.tensors = {torch::tensor(int64_t{7})};
  const Weights back = apply_flat_delta(g, d, integers);
  EXPECT_EQ(values(back.tensors[0]), (std::vector<float>{2, 0}));
  EXPECT_EQ(back.tensors[1].item<int64_t>(), 7);
  EXPECT_EQ(values(apply_flat_delta(g, d).tensors[2]), (std::vector<float>{1.5f}));
  EXPECT_EQ(apply_flat_delta(g, d).tensors[1].item<int64_t>(), 5);  // global's when not given
  EXPECT_THROW(apply_flat_delta(g, vec({1, 2})), fedsign::Error);
}

}  // namespace
}  // namespace fedsign::fl::robust
