// int8 inference of the compact CNN: folded and quantized, it computes what the float model
// computes up to the quantization steps, and it refuses what it was not built for.
#include "fedsign/models/int8_compact.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "fedsign/core/check.h"
#include "fedsign/models/registry.h"

namespace fedsign::models {
namespace {

// A compact model whose batch norms are not the identity (trained-like running statistics and
// affine parameters), so that folding them into the convs matters.
std::shared_ptr<Classifier> compact_with_statistics(int64_t classes = 7) {
  torch::manual_seed(11);
  ModelOptions options;
  options.num_classes = classes;
  auto model = create_model("compact", options);
  torch::NoGradGuard no_grad;
  for (auto& buffer : model->named_buffers()) {
    if (buffer.key().find("running_mean") != std::string::npos) buffer.value().normal_(0, 0.2);
    if (buffer.key().find("running_var") != std::string::npos) buffer.value().uniform_(0.5, 2.0);
  }
  for (auto& p : model->named_parameters()) {
    if (p.value().dim() == 1 && p.key().find("head") == std::string::npos) {
      p.value().uniform_(0.5, 1.5);  // BN gammas, and betas as well: positive shifts
    }
  }
  model->eval();
  return model;
}

TEST(Int8Compact, ComputesTheFloatModelsLogitsUpToQuantization) {
  if (!int8_inference_available()) GTEST_SKIP() << "no x86 quantized engine in this LibTorch";
  auto model = compact_with_statistics();
  torch::manual_seed(5);
  const auto calibration = torch::randn({64, 3, 32, 32});
  const Int8Ranges ranges = calibrate_int8(*model, {calibration});
  ASSERT_EQ(ranges.block_max.size(), 7u);  // 2 + 2 + 2 + 1 conv blocks
  EXPECT_NEAR(ranges.input_min, calibration.min().item<double>(), 1e-6);
  EXPECT_NEAR(ranges.input_max, calibration.max().item<double>(), 1e-6);
  for (double m : ranges.block_max) EXPECT_GT(m, 0.0);

  const Int8Compact int8(*model, ranges);
  const auto x = torch::randn({32, 3, 32, 32});
  torch::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    expected = model->forward(x);
  }
  const auto got = int8.forward(x);
  ASSERT_EQ(got.sizes(), expected.sizes());
  // Relative error of the logits: a few percent for 7 layers of 8-bit steps. Leaving out the
  // batch norms (or a wrong fold) is off by far more than that.
  const double relative = ((got - expected).norm() / expected.norm()).item<double>();
  EXPECT_LT(relative, 0.05) << relative;
  EXPECT_GT(relative, 0.0);  // it is quantized, not the float model again
  const double agree = got.argmax(1).eq(expected.argmax(1)).to(torch::kFloat32).mean().item<double>();
  EXPECT_GE(agree, 0.9);
  // The same input in channels-last memory gives the same logits.
  EXPECT_TRUE(torch::allclose(int8.forward(x.contiguous(torch::MemoryFormat::ChannelsLast)), got));
  // Calibration left the model as it was (eval mode here; train mode is restored too).
  model->train();
  calibrate_int8(*model, {calibration});
  EXPECT_TRUE(model->is_training());
}

TEST(Int8Compact, Bf16CalibrationFindsTheFp32RangesWithinBf16Rounding) {
  auto model = compact_with_statistics();
  torch::manual_seed(6);
  const std::vector<torch::Tensor> batches = {torch::randn({16, 3, 32, 32}),
                                              torch::randn({16, 3, 32, 32})};
  const Int8Ranges fp32 = calibrate_int8(*model, batches);
  const Int8Ranges bf16 = calibrate_int8(*model, batches, /*bf16=*/true);
  EXPECT_EQ(bf16.input_min, fp32.input_min);  // read before the cast
  EXPECT_EQ(bf16.input_max, fp32.input_max);
  ASSERT_EQ(bf16.block_max.size(), fp32.block_max.size());
  bool any_differs = false;
  for (std::size_t i = 0; i < fp32.block_max.size(); ++i) {
    // bf16 keeps 8 significant bits; seven layers of it stay within a few percent.
    EXPECT_NEAR(bf16.block_max[i], fp32.block_max[i], 0.03 * fp32.block_max[i]) << "block " << i;
    any_differs = any_differs || bf16.block_max[i] != fp32.block_max[i];
  }
  EXPECT_TRUE(any_differs);  // it did compute in bf16
}

TEST(Int8Compact, RefusesOtherModelsAndRangesThatDoNotFit) {
  if (!int8_inference_available()) GTEST_SKIP() << "no x86 quantized engine in this LibTorch";
  auto model = compact_with_statistics();
  const auto batch = torch::randn({4, 3, 32, 32});
  Int8Ranges ranges = calibrate_int8(*model, {batch});

  auto other = create_model("keras_cnn");
  EXPECT_THROW(calibrate_int8(*other, {batch}), fedsign::Error);
  EXPECT_THROW(Int8Compact(*other, ranges), fedsign::Error);
  EXPECT_THROW(calibrate_int8(*model, {}), fedsign::Error);

  Int8Ranges short_ranges = ranges;
  short_ranges.block_max.pop_back();
  EXPECT_THROW(Int8Compact(*model, short_ranges), fedsign::Error);
  Int8Ranges nan_range = ranges;
  nan_range.block_max[2] = std::nan("");
  EXPECT_THROW(Int8Compact(*model, nan_range), fedsign::Error);
  Int8Ranges empty_input = ranges;
  empty_input.input_max = empty_input.input_min;
  EXPECT_THROW(Int8Compact(*model, empty_input), fedsign::Error);
  const Int8Compact ok(*model, ranges);
  EXPECT_THROW(ok.forward(torch::randn({4, 1, 32, 32})), fedsign::Error);
}

}  // namespace
}  // namespace fedsign::models
