// Update arithmetic (fl/update.h): deltas over the floating tensors, counters carried as they
// are, norms in float64, clipping and scaling that leave integer tensors alone.
#include "fedsign/fl/update.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "fedsign/core/check.h"

namespace fedsign::fl {
namespace {

Weights weights(std::vector<float> w, float mean, int64_t count) {
  Weights out;
  out.names = {"conv.weight", "bn.running_mean", "bn.num_batches_tracked"};
  out.tensors = {torch::tensor(w), torch::tensor({mean}), torch::tensor(count)};
  return out;
}

TEST(Update, DeltaAndApplyAreInverseAndCarryCounters) {
  const Weights global = weights({1, 2}, 0.5f, 5);
  const Weights local = weights({4, 6}, 0.5f, 9);
  const Weights delta = model_delta(global, local);
  EXPECT_TRUE(torch::equal(delta.tensors[0], torch::tensor({3.0f, 4.0f})));
  EXPECT_EQ(delta.tensors[2].item<int64_t>(), 9) << "a counter is the client's value, not a difference";
  EXPECT_DOUBLE_EQ(l2_norm(delta), 5.0) << "counters weigh in no norm";
  EXPECT_DOUBLE_EQ(delta_norm(global, local), 5.0);
  EXPECT_TRUE(equal(apply_delta(global, delta), local));
}

TEST(Update, ClipScalesFloatingTensorsOnlyAndOnlyBeyondTheBound) {
  const Weights delta = model_delta(weights({0, 0}, 0, 5), weights({3, 4}, 0, 9));
  double norm = 0;
  const Weights clipped = clip_delta(delta, 1.0, &norm);
  EXPECT_DOUBLE_EQ(norm, 5.0);
  EXPECT_NEAR(l2_norm(clipped), 1.0, 1e-6);
  EXPECT_EQ(clipped.tensors[2].item<int64_t>(), 9);
  EXPECT_TRUE(equal(clip_delta(delta, 10.0), delta)) << "inside the bound: unchanged";
  EXPECT_THROW(clip_delta(delta, 0.0), fedsign::Error);
}

TEST(Update, ScaleDeltaMovesAlongTheUpdateInDoublePrecision) {
  const Weights global = weights({1, 1}, 0, 5);
  const Weights local = weights({3, 1}, 2, 9);
  const Weights half = scale_delta(global, local, 0.5);
  EXPECT_TRUE(torch::equal(half.tensors[0], torch::tensor({2.0f, 1.0f})));
  EXPECT_FLOAT_EQ(half.tensors[1].item<float>(), 1.0f);
  EXPECT_EQ(half.tensors[2].item<int64_t>(), 9);
  const Weights flipped = scale_delta(global, local, -1.0);
  EXPECT_TRUE(torch::equal(flipped.tensors[0], torch::tensor({-1.0f, 1.0f})));
  // 1e30-sized weights: the norm is finite in float64 where float32 would overflow.
  EXPECT_TRUE(std::isfinite(delta_norm(global, weights({1e30f, 1e30f}, 0, 5))));
}

TEST(Update, DifferentLayoutsAreRefused) {
  Weights other = weights({1, 2, 3}, 0, 5);
  EXPECT_THROW(model_delta(weights({1, 2}, 0, 5), other), fedsign::Error);
  EXPECT_THROW(delta_norm(weights({1, 2}, 0, 5), other), fedsign::Error);
}

}  // namespace
}  // namespace fedsign::fl
