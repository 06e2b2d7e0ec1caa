// Grad-CAM and CAM: heatmap shape and range, that they point at the evidence, and that the two
// agree for a global-average-pooling model with a linear head.
#include "fedsign/experiments/gradcam.h"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>
#include <torch/torch.h>

#include "fedsign/core/check.h"
#include "fedsign/experiments/gradcam_overlay.h"
#include "fedsign/models/registry.h"

namespace fedsign::experiments {
namespace {

// Feature map = the input's colour channels (ReLU), GAP, linear head: class 0 responds to
// red, class 1 to blue. So the evidence for a class is exactly where its colour is.
class ColourModel : public models::Classifier {
 public:
  ColourModel() {
    head = register_module("head", torch::nn::Linear(3, 2));
    torch::NoGradGuard no_grad;
    head->weight.copy_(torch::tensor({{1.f, 0.f, 0.f}, {0.f, 0.f, 1.f}}));
    head->bias.zero_();
  }
  torch::Tensor embed(const torch::Tensor& x) override { return pool_features(feature_map(x)); }
  torch::Tensor classify(const torch::Tensor& e) override { return head->forward(e); }
  torch::Tensor feature_map(const torch::Tensor& x) override { return torch::relu(x); }
  torch::Tensor pool_features(const torch::Tensor& m) override { return m.mean({2, 3}); }
  void reset_head(int64_t) override {}
  std::vector<std::string> layer_groups() const override { return {"head"}; }
  std::string group_of(const std::string&) const override { return "head"; }
  int64_t num_classes() const override { return 2; }
  int64_t embedding_dim() const override { return 3; }
  torch::nn::Linear head{nullptr};
};

// 1 x 3 x 32 x 32: a red square at the top left, a weaker blue one at the bottom right.
torch::Tensor two_patches() {
  auto x = torch::zeros({1, 3, 32, 32});
  x.index_put_({0, 0, torch::indexing::Slice(2, 10), torch::indexing::Slice(2, 10)}, 1.0);
  x.index_put_({0, 2, torch::indexing::Slice(20, 30), torch::indexing::Slice(20, 30)}, 0.3);
  return x;
}

TEST(GradCam, PointsAtTheEvidenceOfTheExplainedClass) {
  ColourModel model;
  const auto x = two_patches();
  for (auto method : {CamMethod::kGradCam, CamMethod::kCam}) {
    const auto red = compute_cam(model, x, method);  // predicted: red (more red mass)
    EXPECT_EQ(red.predicted[0], 0);
    EXPECT_EQ(red.target_class[0], 0);
    const auto h = red.heatmaps[0];
    EXPECT_GT(h.index({torch::indexing::Slice(3, 9), torch::indexing::Slice(3, 9)}).min().item<float>(), 0.9);
    EXPECT_LT(h.index({torch::indexing::Slice(18, 32), torch::indexing::Slice(18, 32)}).max().item<float>(), 0.01);
    const auto blue = compute_cam(model, x, method, /*target_class=*/1);
    EXPECT_EQ(blue.target_class[0], 1);
    EXPECT_EQ(blue.predicted[0], 0);
    const auto hb = blue.heatmaps[0];
    EXPECT_GT(hb.index({torch::indexing::Slice(22, 28), torch::indexing::Slice(22, 28)}).min().item<float>(), 0.9);
    EXPECT_LT(hb.index({torch::indexing::Slice(0, 12), torch::indexing::Slice(0, 12)}).max().item<float>(), 0.01);
  }
}

TEST(GradCam, ShapeAndRangeOnCompact) {
  torch::manual_seed(3);
  auto model = models::create_model("compact", {.num_classes = 43, .input_size = 40});
  const auto x = torch::randn({3, 3, 40, 40});
  const auto cam = compute_cam(*model, x, CamMethod::kGradCam);
  ASSERT_EQ(cam.heatmaps.sizes(), (std::vector<int64_t>{3, 40, 40}));
  EXPECT_GE(cam.heatmaps.min().item<float>(), 0.f);
  EXPECT_LE(cam.heatmaps.max().item<float>(), 1.f);
  EXPECT_EQ(cam.predicted.size(), 3u);
  for (int64_t i = 0; i < 3; ++i) {
    const auto h = cam.heatmaps[i];
    if (h.max().item<float>() > 0) {
      EXPECT_NEAR(h.max().item<float>(), 1.f, 1e-5);
      EXPECT_GT(h.std().item<float>(), 0.f);  // not constant
    }
  }
  EXPECT_TRUE(model->is_training());  // mode restored
}

TEST(GradCam, EqualsCamForGapLinearModels) {
  torch::manual_seed(5);
  auto model = models::create_model("compact", {.num_classes = 10});
  const auto x = torch::randn({4, 3, 32, 32});
  for (int64_t target : {-1, 3}) {
    const auto grad = compute_cam(*model, x, CamMethod::kGradCam, target);
    const auto plain = compute_cam(*model, x, CamMethod::kCam, target);
    EXPECT_EQ(grad.target_class, plain.target_class);
    EXPECT_TRUE(torch::allclose(grad.heatmaps, plain.heatmaps, 1e-4, 1e-4))
        << (grad.heatmaps - plain.heatmaps).abs().max().item<float>();
  }
}

TEST(GradCam, PlainCamRefusesModelsWithoutGapLinearHead) {
  auto model = models::create_model("keras_cnn", {.num_classes = 43, .input_size = 32});
  const auto x = torch::randn({1, 3, 32, 32});
  EXPECT_THROW(compute_cam(*model, x, CamMethod::kCam), Error);
  const auto cam = compute_cam(*model, x, CamMethod::kGradCam);
  EXPECT_EQ(cam.heatmaps.sizes(), (std::vector<int64_t>{1, 32, 32}));
  EXPECT_THROW(compute_cam(*model, x, CamMethod::kGradCam, 43), Error);
  EXPECT_THROW(parse_cam_method("bogus"), Error);
}

TEST(GradCamOverlay, TilesAndGrid) {
  cv::Mat image(64, 64, CV_8UC3, cv::Scalar(100, 100, 100));
  cv::Mat heat(8, 8, CV_32F, cv::Scalar(0));
  heat.at<float>(0, 0) = 1.f;
  const cv::Mat overlay = overlay_heatmap(image, heat);
  EXPECT_EQ(overlay.size(), image.size());
  EXPECT_NE(overlay.at<cv::Vec3b>(0, 0), overlay.at<cv::Vec3b>(63, 63));
  const cv::Mat tile = cam_tile(image, heat, {"pred 1", "line two"});
  EXPECT_EQ(tile.cols, 128);
  EXPECT_GT(tile.rows, 64);
  const cv::Mat grid = tile_grid({tile, tile, tile});
  EXPECT_GT(grid.cols, 2 * tile.cols);
  EXPECT_GT(grid.rows, 2 * tile.rows);
}

}  // namespace
}  // namespace fedsign::experiments
