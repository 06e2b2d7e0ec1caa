#include "fedsign/train/contrastive_loss.h"

#include <torch/torch.h>

#include "fedsign/core/check.h"

namespace fedsign::train {

namespace {
void check_inputs(const torch::Tensor& embeddings, const torch::Tensor& labels) {
  FEDSIGN_CHECK(embeddings.dim() == 2, "contrastive loss: embeddings must be N x D, got {} dims",
                embeddings.dim());
  FEDSIGN_CHECK(labels.dim() == 1 && labels.size(0) == embeddings.size(0),
                "contrastive loss: {} labels for {} embeddings", labels.numel(), embeddings.size(0));
}
}  // namespace

torch::Tensor supcon_loss(const torch::Tensor& embeddings, const torch::Tensor& labels,
                          double temperature) {
  check_inputs(embeddings, labels);
  FEDSIGN_CHECK(temperature > 0, "contrastive temperature must be > 0, got {}", temperature);
  const int64_t n = embeddings.size(0);
  const auto z = torch::nn::functional::normalize(
      embeddings.to(torch::kFloat32), torch::nn::functional::NormalizeFuncOptions().dim(1));
  auto sim = torch::matmul(z, z.t()) / temperature;
  // Stability: subtract each row's max (a constant per row; the loss is unchanged).
  sim = sim - std::get<0>(sim.max(1, true)).detach();
  const auto self = torch::eye(n, torch::TensorOptions().dtype(torch::kBool));
  const auto others = self.logical_not();
  const auto y = labels.view({-1, 1});
  const auto positives = y.eq(y.t()).logical_and(others).to(torch::kFloat32);
  // log-sum-exp over a != i: exclude the diagonal with -inf.
  const auto masked = sim.masked_fill(self, -std::numeric_limits<float>::infinity());
  const auto log_prob = sim - torch::logsumexp(masked, 1, true);
  const auto count = positives.sum(1);
  const auto has_positive = count.gt(0);
  if (!has_positive.any().item<bool>()) return embeddings.sum() * 0.0;
  const auto mean_log_prob = (positives * log_prob.masked_fill(self, 0.0)).sum(1) /
                             count.clamp_min(1.0);
  return -mean_log_prob.masked_select(has_positive).mean();
}

torch::Tensor pairwise_contrastive_loss(const torch::Tensor& embeddings, const torch::Tensor& labels,
                                       double margin, bool normalize) {
  check_inputs(embeddings, labels);
  const int64_t n = embeddings.size(0);
  if (n < 2) return embeddings.sum() * 0.0;
  auto z = embeddings.to(torch::kFloat32);
  if (normalize) {
    z = torch::nn::functional::normalize(z, torch::nn::functional::NormalizeFuncOptions().dim(1));
  }
  // Squared distances via the Gram matrix; d = sqrt(d2 + eps) keeps the gradient finite at 0.
  const auto sq = (z * z).sum(1, true);
  const auto d2 = (sq + sq.t() - 2 * torch::matmul(z, z.t())).clamp_min(0.0);
  const auto d = torch::sqrt(d2 + 1e-12);
  const auto y = labels.view({-1, 1});
  const auto same = y.eq(y.t()).to(torch::kFloat32);
  const auto terms = same * d2 + (1 - same) * torch::relu(margin - d).pow(2);
  const auto upper = torch::triu(torch::ones({n, n}), 1).to(torch::kBool);
  return terms.masked_select(upper).mean();
}

}  // namespace fedsign::train
