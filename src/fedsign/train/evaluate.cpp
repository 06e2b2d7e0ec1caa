#include "fedsign/train/evaluate.h"

#include <array>

#include "fedsign/core/check.h"
#include "fedsign/models/layers.h"
#include "fedsign/train/batch.h"

namespace fedsign::train {

double Predictions::accuracy() const {
  if (truth.empty()) return 0.0;
  std::size_t correct = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) correct += truth[i] == predicted[i];
  return static_cast<double>(correct) / truth.size();
}

void apply_memory_format(models::Classifier& model, bool channels_last) {
  const auto format = channels_last ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
  torch::NoGradGuard no_grad;
  for (auto& p : model.parameters()) {
    if (p.dim() == 4) p.set_data(p.data().contiguous(format));
  }
}

torch::Tensor tta_view(const torch::Tensor& x, int v) {
  // {scale, shift x, shift y} of the sampling grid in normalized coordinates ([-1, 1] across the
  // image): a scale below 1 samples a smaller area, i.e. zooms in; 0.125 is 1/16 of the side.
  static constexpr std::array<std::array<double, 3>, kMaxTtaViews> kViews = {{
      {1.0, 0.0, 0.0}, {0.9, 0.0, 0.0}, {1.1, 0.0, 0.0},
      {1.0, 0.125, 0.0}, {1.0, -0.125, 0.0}, {1.0, 0.0, 0.125}, {1.0, 0.0, -0.125}}};
  FEDSIGN_CHECK(v >= 0 && v < kMaxTtaViews, "test-time augmentation view {} is not in 0..{}", v,
                kMaxTtaViews - 1);
  if (v == 0) return x;
  const auto& [scale, dx, dy] = kViews[static_cast<std::size_t>(v)];
  const auto theta = torch::tensor({scale, 0.0, dx, 0.0, scale, dy}, x.options().dtype(torch::kFloat32))
                         .view({1, 2, 3})
                         .expand({x.size(0), 2, 3});
  return models::affine_resample(x, theta);
}

namespace {

// The batched loop both models share: `forward` maps a normalized batch to float logits.
template <typename Forward>
Predictions predict_batches(const Forward& forward, const data::ImageSet& set,
                            const data::Indices& indices, bool channels_last, int64_t batch_size,
                            int tta_views) {
  FEDSIGN_CHECK(tta_views >= 1 && tta_views <= kMaxTtaViews,
                "test-time augmentation takes 1 to {} views, not {}", kMaxTtaViews, tta_views);
  FEDSIGN_CHECK(batch_size >= 1, "batch size must be >= 1, got {}", batch_size);
  torch::NoGradGuard no_grad;
  Predictions out;
  out.truth.reserve(indices.size());
  out.predicted.reserve(indices.size());
  out.confidence.reserve(indices.size());
  double loss_sum = 0.0;
  for (std::size_t begin = 0; begin < indices.size(); begin += batch_size) {
    const std::size_t end = std::min(indices.size(), begin + static_cast<std::size_t>(batch_size));
    const auto x = gather_inputs(set, indices, begin, end, channels_last);
    auto y = gather_labels(set, indices, begin, end);
    torch::Tensor logits = forward(x);
    if (tta_views > 1) {
      // Log of the mean probability over views, so loss and softmax below read the mean.
      auto probabilities = torch::softmax(logits, 1);
      for (int v = 1; v < tta_views; ++v) probabilities += torch::softmax(forward(tta_view(x, v)), 1);
      logits = (probabilities / tta_views).clamp_min(1e-12).log();
    }
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    auto [confidence, predicted] = torch::softmax(logits, 1).max(1);
    confidence = confidence.contiguous();
    predicted = predicted.contiguous();
    const auto* y_ptr = y.data_ptr<int64_t>();
    const auto* p_ptr = predicted.data_ptr<int64_t>();
    const auto* c_ptr = confidence.data_ptr<float>();
    for (int64_t i = 0; i < y.size(0); ++i) {
      out.truth.push_back(static_cast<int>(y_ptr[i]));
      out.predicted.push_back(static_cast<int>(p_ptr[i]));
      out.confidence.push_back(c_ptr[i]);
    }
  }
  out.mean_loss = indices.empty() ? 0.0 : loss_sum / indices.size();
  return out;
}

}  // namespace

Predictions predict_subset(models::Classifier& model, const data::ImageSet& set,
                           const data::Indices& indices, const ComputeMode& mode,
                           int64_t batch_size, int tta_views) {
  const bool was_training = model.is_training();
  model.eval();
  auto forward = [&](const torch::Tensor& x) {
    AutocastScope autocast(mode);
    return model.forward(x).to(torch::kFloat32);
  };
  Predictions out = predict_batches(forward, set, indices, mode.channels_last, batch_size, tta_views);
  if (was_training) model.train();
  return out;
}

Predictions predict_subset(const models::Int8Compact& model, const data::ImageSet& set,
                           const data::Indices& indices, int64_t batch_size, int tta_views) {
  auto forward = [&](const torch::Tensor& x) { return model.forward(x); };
  return predict_batches(forward, set, indices, /*channels_last=*/true, batch_size, tta_views);
}

}  // namespace fedsign::train
