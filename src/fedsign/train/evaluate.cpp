#include "fedsign/train/evaluate.h"

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

Predictions predict_subset(models::Classifier& model, const data::ImageSet& set,
                           const data::Indices& indices, const ComputeMode& mode,
                           int64_t batch_size) {
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  Predictions out;
  out.truth.reserve(indices.size());
  out.predicted.reserve(indices.size());
  out.confidence.reserve(indices.size());
  double loss_sum = 0.0;
  for (std::size_t begin = 0; begin < indices.size(); begin += batch_size) {
    const std::size_t end = std::min(indices.size(), begin + static_cast<std::size_t>(batch_size));
    const auto x = gather_inputs(set, indices, begin, end, mode.channels_last);
    auto y = gather_labels(set, indices, begin, end);
    torch::Tensor logits;
    {
      AutocastScope autocast(mode);
      logits = model.forward(x);
    }
    logits = logits.to(torch::kFloat32);
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
  if (was_training) model.train();
  return out;
}

}  // namespace fedsign::train
