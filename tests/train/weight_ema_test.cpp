// Weight EMA (weight_ema.h) against hand-computed averages, its decay warm-up and bounds, and
// its checkpoint round trip (fit() with a weight EMA: tests/train/fit_test.cpp).
#include "fedsign/train/weight_ema.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fedsign/core/check.h"
#include "fedsign/models/registry.h"
#include "fedsign/models/weights.h"

namespace fedsign::train {
namespace {

std::vector<torch::Tensor> tensors(const models::Classifier& m) {
  std::vector<torch::Tensor> out;
  for (const auto& [name, t] : models::state_tensors(m)) out.push_back(t);
  return out;
}

void add_to_floats(models::Classifier& m, double value) {
  torch::NoGradGuard no_grad;
  for (auto& t : tensors(m)) {
    if (t.is_floating_point()) t.add_(value);
  }
}

void expect_same_weights(const models::Classifier& a, const models::Classifier& b) {
  const auto ta = tensors(a), tb = tensors(b);
  ASSERT_EQ(ta.size(), tb.size());
  for (std::size_t i = 0; i < ta.size(); ++i) EXPECT_TRUE(torch::equal(ta[i], tb[i])) << i;
}

TEST(WeightEma, FollowsTheHandComputedAverageWithItsDecayWarmUp) {
  torch::manual_seed(1);
  auto model = models::create_model("compact");
  const auto start = tensors(*model);
  std::vector<torch::Tensor> w0;
  for (const auto& t : start) w0.push_back(t.clone());
  WeightEma ema(models::create_model("compact"), *model, 0.5);
  expect_same_weights(ema.model(), *model);  // starts as a copy

  // Update 1 uses min(0.5, 1/10) = 0.1: average = 0.1 w0 + 0.9 (w0 + 1) = w0 + 0.9.
  EXPECT_DOUBLE_EQ(ema.next_decay(), 0.1);
  add_to_floats(*model, 1.0);
  ema.update(*model);
  // Update 2 uses min(0.5, 2/11): average = d (w0 + 0.9) + (1 - d)(w0 + 3).
  const double d = 2.0 / 11.0;
  EXPECT_DOUBLE_EQ(ema.next_decay(), d);
  add_to_floats(*model, 2.0);
  {
    // An integer buffer (BatchNorm's batch counter) is copied, not averaged.
    torch::NoGradGuard no_grad;
    for (auto& b : model->buffers()) {
      if (!b.is_floating_point()) b.fill_(7);
    }
  }
  ema.update(*model);
  // From update 10 on the decay is the configured 0.5: (1 + 9) / (10 + 9) > 0.5.
  for (int i = 2; i < 9; ++i) ema.update(*model);
  EXPECT_DOUBLE_EQ(ema.next_decay(), 0.5);

  // Check update 2's result on a fresh average (the loop above moved this one on).
  auto fresh_model = models::create_model("compact");
  {
    torch::NoGradGuard no_grad;
    const auto t = tensors(*fresh_model);
    for (std::size_t i = 0; i < t.size(); ++i) t[i].copy_(w0[i]);
  }
  WeightEma two(models::create_model("compact"), *fresh_model, 0.5);
  add_to_floats(*fresh_model, 1.0);
  two.update(*fresh_model);
  add_to_floats(*fresh_model, 2.0);
  two.update(*fresh_model);
  const auto average = tensors(two.model());
  int checked = 0;
  for (std::size_t i = 0; i < average.size(); ++i) {
    if (!average[i].is_floating_point()) continue;
    const auto expected = d * (w0[i] + 0.9) + (1 - d) * (w0[i] + 3.0);
    EXPECT_TRUE(torch::allclose(average[i], expected, 1e-5, 1e-5)) << i;
    ++checked;
  }
  EXPECT_GT(checked, 10);
  const auto moved = tensors(ema.model());
  for (std::size_t i = 0; i < moved.size(); ++i) {
    if (!moved[i].is_floating_point()) EXPECT_EQ(moved[i].item<int64_t>(), 7) << i;
  }
}

TEST(WeightEma, RefusesADecayOutsideZeroToOne) {
  auto model = models::create_model("compact");
  EXPECT_THROW(WeightEma(models::create_model("compact"), *model, 1.0), fedsign::Error);
  EXPECT_THROW(WeightEma(models::create_model("compact"), *model, -0.1), fedsign::Error);
  EXPECT_NO_THROW(WeightEma(models::create_model("compact"), *model, 0.0));
}

TEST(WeightEma, RefusesAModelOfAnotherArchitecture) {
  auto model = models::create_model("compact");
  EXPECT_THROW(WeightEma(models::create_model("mobilenet_v3_small"), *model, 0.9),
               fedsign::Error);
}

TEST(WeightEma, CheckpointRoundTripContinuesTheSameAverage) {
  torch::manual_seed(2);
  auto model = models::create_model("compact");
  WeightEma a(models::create_model("compact"), *model, 0.9);
  for (int i = 0; i < 3; ++i) {
    add_to_floats(*model, 0.5);
    a.update(*model);
  }
  torch::serialize::OutputArchive out;
  a.save(out);
  std::stringstream bytes;
  out.save_to(bytes);

  WeightEma b(models::create_model("compact"), *models::create_model("compact"), 0.9);
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  b.load(in);
  EXPECT_EQ(b.updates(), 3);
  expect_same_weights(a.model(), b.model());
  add_to_floats(*model, 0.5);
  a.update(*model);
  b.update(*model);
  expect_same_weights(a.model(), b.model());

  WeightEma other_decay(models::create_model("compact"), *model, 0.99);
  torch::serialize::InputArchive again;
  bytes.seekg(0);
  again.load_from(bytes);
  EXPECT_THROW(other_decay.load(again), fedsign::Error);
}

}  // namespace
}  // namespace fedsign::train
