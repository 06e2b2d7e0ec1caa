// Test-time augmentation: the views are the stated geometric changes, and averaging over views
// is a mean of probabilities (on images every view leaves unchanged it changes nothing).
#include "fedsign/train/evaluate.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fedsign/core/check.h"
#include "fedsign/models/registry.h"

namespace fedsign::train {
namespace {

TEST(TtaView, ViewZeroIsTheInputAndShiftsMoveByASixteenthOfTheSide) {
  auto x = torch::zeros({1, 3, 32, 32});
  x.index_put_({torch::indexing::Slice(), torch::indexing::Slice(), torch::indexing::Slice(),
                10},
               1.0);
  EXPECT_TRUE(torch::equal(tta_view(x, 0), x));
  // View 3 samples 1/16 of the side (2 pixels) to the right: the bar moves from column 10 to 8.
  const auto shifted = tta_view(x, 3);
  EXPECT_TRUE(torch::allclose(shifted.select(3, 8), torch::ones({1, 3, 32}), 1e-5, 1e-5));
  EXPECT_LT(shifted.select(3, 10).abs().max().item<float>(), 1e-5);
  // View 5 moves rows, not columns: the vertical bar stays where it is.
  EXPECT_TRUE(torch::allclose(tta_view(x, 5).select(3, 10), torch::ones({1, 3, 32}), 1e-5, 1e-5));
  EXPECT_THROW(tta_view(x, kMaxTtaViews), fedsign::Error);
}

TEST(TtaView, ZoomsKeepAConstantImageAndChangeAStructuredOne) {
  const auto constant = torch::full({2, 3, 16, 16}, 0.25);
  // Values rising to the right and, less steeply, downwards: every view changes it.
  const auto ramp = (torch::linspace(-1, 1, 16).view({1, 1, 1, 16}) +
                     0.5 * torch::linspace(-1, 1, 16).view({1, 1, 16, 1}))
                        .expand({2, 3, 16, 16})
                        .contiguous();
  for (int v = 1; v < kMaxTtaViews; ++v) {
    EXPECT_TRUE(torch::allclose(tta_view(constant, v), constant, 1e-6, 1e-6)) << v;
    EXPECT_FALSE(torch::allclose(tta_view(ramp, v), ramp, 1e-3, 1e-3)) << v;
  }
  // Zooming in (view 1) magnifies: the ramp spreads over more pixels and gets flatter; zooming
  // out (view 2) steepens it.
  const auto slope = [](const torch::Tensor& t) {
    return (t.select(3, 9) - t.select(3, 6)).mean().item<double>();
  };
  EXPECT_LT(slope(tta_view(ramp, 1)), slope(ramp) - 1e-3);
  EXPECT_GT(slope(tta_view(ramp, 2)), slope(ramp) + 1e-3);
}

data::ImageSet uniform_images(int n) {
  data::ImageSet set;
  set.height = set.width = 32;
  set.pixels.resize(static_cast<std::size_t>(n) * 32 * 32 * 3);
  for (int i = 0; i < n; ++i) {
    std::fill_n(set.image(i), set.image_bytes(), static_cast<std::uint8_t>(20 + 40 * i));
    set.labels.push_back(i % 3);
    set.tracks.push_back(i);
    set.paths.push_back("image" + std::to_string(i));
  }
  return set;
}

TEST(PredictSubset, TestTimeViewsAverageProbabilities) {
  torch::manual_seed(4);
  auto model = models::create_model("compact");
  const auto set = uniform_images(6);
  const auto indices = data::all_indices(set);
  ComputeMode fp32;
  // Every view of a uniform image is the image: the mean over 7 views is the single view.
  const auto one = predict_subset(*model, set, indices, fp32, 4, 1);
  const auto seven = predict_subset(*model, set, indices, fp32, 4, kMaxTtaViews);
  EXPECT_EQ(one.predicted, seven.predicted);
  EXPECT_NEAR(one.mean_loss, seven.mean_loss, 1e-4);
  for (std::size_t i = 0; i < one.confidence.size(); ++i) {
    EXPECT_NEAR(one.confidence[i], seven.confidence[i], 1e-5) << i;
  }
  EXPECT_THROW(predict_subset(*model, set, indices, fp32, 4, 0), fedsign::Error);
  EXPECT_THROW(predict_subset(*model, set, indices, fp32, 4, kMaxTtaViews + 1), fedsign::Error);
}

}  // namespace
}  // namespace fedsign::train
