#include "fedsign/experiments/gradcam.h"

#include <torch/torch.h>

#include "fedsign/core/check.h"

namespace fedsign::experiments {
namespace {

namespace F = torch::nn::functional;

// Restores the model's training mode on scope exit.
class EvalScope {
 public:
  explicit EvalScope(models::Classifier& model) : model_(model), was_training_(model.is_training()) {
    model_.eval();
  }
  ~EvalScope() {
    if (was_training_) model_.train();
  }
  EvalScope(const EvalScope&) = delete;
  EvalScope& operator=(const EvalScope&) = delete;

 private:
  models::Classifier& model_;
  bool was_training_;
};

// N x h x w raw maps -> N x H x W, each divided by its maximum (zero maps stay zero).
torch::Tensor upsample_and_normalize(const torch::Tensor& raw, int64_t height, int64_t width) {
  auto up = F::interpolate(raw.unsqueeze(1), F::InterpolateFuncOptions()
                                                 .size(std::vector<int64_t>{height, width})
                                                 .mode(torch::kBilinear)
                                                 .align_corners(false))
                .squeeze(1)
                .clamp_min(0);
  auto peak = up.amax({1, 2}, /*keepdim=*/true);
  return torch::where(peak > 0, up / peak.clamp_min(1e-12), torch::zeros_like(up));
}

// Per-location class scores W . A (bias removed) for a GAP + linear head: N x K x h x w.
// Checks that the head really is that (the mean over locations plus bias reproduces the
// logits), so plain CAM is never silently wrong.
torch::Tensor linear_head_scores(models::Classifier& model, const torch::Tensor& map,
                                 const torch::Tensor& logits) {
  const int64_t n = map.size(0), c = map.size(1), h = map.size(2), w = map.size(3);
  const char* kNeedsGap =
      "plain CAM needs a model whose head is linear on the global average of its feature map "
      "(compact, resnet); use --method gradcam";
  const auto pooled = model.pool_features(map);
  FEDSIGN_CHECK(pooled.dim() == 2 && pooled.size(1) == c &&
                    torch::allclose(pooled, map.mean({2, 3}), 1e-4, 1e-5),
                "{}", kNeedsGap);
  auto locations = map.permute({0, 2, 3, 1}).reshape({n * h * w, c});
  auto bias = model.classify(torch::zeros({1, c}, map.options()));
  auto scores = (model.classify(locations) - bias).reshape({n, h, w, -1}).permute({0, 3, 1, 2});
  auto rebuilt = scores.mean({2, 3}) + bias;
  const double tolerance = 1e-3 * std::max(1.0, logits.abs().max().item<double>());
  FEDSIGN_CHECK(rebuilt.sizes() == logits.sizes() &&
                    (rebuilt - logits).abs().max().item<double>() <= tolerance,
                "{}", kNeedsGap);
  return scores;
}

}  // namespace

CamMethod parse_cam_method(const std::string& name) {
  if (name == "gradcam" || name == "grad-cam") return CamMethod::kGradCam;
  if (name == "cam") return CamMethod::kCam;
  FEDSIGN_FAIL("unknown CAM method '{}' (expected gradcam or cam)", name);
}

std::string to_string(CamMethod method) {
  return method == CamMethod::kGradCam ? "gradcam" : "cam";
}

CamResult compute_cam(models::Classifier& model, const torch::Tensor& input, CamMethod method,
                      int64_t target_class) {
  FEDSIGN_CHECK(input.dim() == 4 && input.size(1) == 3,
                "CAM input must be N x 3 x H x W, got {} dimensions", input.dim());
  FEDSIGN_CHECK(target_class < model.num_classes(), "class {} outside 0..{}", target_class,
                model.num_classes() - 1);
  EvalScope eval(model);
  torch::AutoGradMode grad_mode(true);
  const auto x = input.to(torch::kFloat32).contiguous();
  // The map is a leaf: gradients flow to it only, none into the model's parameters.
  const auto map = model.feature_map(x).detach().contiguous().requires_grad_(true);
  const auto logits = model.classify(model.pool_features(map));

  CamResult result;
  const auto probabilities = torch::softmax(logits.detach(), 1);
  const auto [confidence, predicted] = probabilities.max(1);
  const auto targets = target_class >= 0 ? torch::full_like(predicted, target_class) : predicted;
  const auto target_probability = probabilities.gather(1, targets.view({-1, 1})).view({-1});
  for (int64_t i = 0; i < x.size(0); ++i) {
    result.predicted.push_back(predicted[i].item<int64_t>());
    result.confidence.push_back(confidence[i].item<float>());
    result.target_class.push_back(targets[i].item<int64_t>());
    result.target_probability.push_back(target_probability[i].item<float>());
  }

  torch::Tensor raw;  // N x h x w
  if (method == CamMethod::kGradCam) {
    const auto score = logits.gather(1, targets.view({-1, 1})).sum();
    const auto grad = torch::autograd::grad({score}, {map})[0];
    const auto weights = grad.mean({2, 3}, /*keepdim=*/true);
    raw = torch::relu((weights * map.detach()).sum(1));
  } else {
    torch::NoGradGuard no_grad;
    const auto scores = linear_head_scores(model, map.detach(), logits.detach());
    const auto index = targets.view({-1, 1, 1, 1}).expand({-1, 1, scores.size(2), scores.size(3)});
    raw = torch::relu(scores.gather(1, index).squeeze(1));
  }
  result.heatmaps = upsample_and_normalize(raw.detach(), x.size(2), x.size(3)).contiguous();
  return result;
}

}  // namespace fedsign::experiments
