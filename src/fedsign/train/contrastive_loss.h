// Metric-learning losses on a batch of embeddings, added to cross-entropy with a weight (see
// TrainConfig::contrastive_weight). Pure functions of their tensors; differentiable.
#pragma once

#include <torch/types.h>

namespace fedsign::train {

// Supervised contrastive loss (Khosla et al., NeurIPS 2020, L_out):
//   z = embeddings / ||embeddings||,  s_ij = z_i . z_j / temperature,
//   L = mean over anchors i with >= 1 positive of
//       -1/|P(i)| * sum_{p in P(i)} log( exp(s_ip) / sum_{a != i} exp(s_ia) ),
// P(i) = other samples with the label of i. 0 (with a gradient path) if no anchor has a positive.
// embeddings: N x D float; labels: N int64.
torch::Tensor supcon_loss(const torch::Tensor& embeddings, const torch::Tensor& labels,
                          double temperature = 0.1);

// Pairwise contrastive loss (Hadsell, Chopra, LeCun 2006) over all pairs i < j of the batch,
// on raw (or, with normalize, L2-normalized) embeddings, d = ||z_i - z_j||:
//   same label: d^2;  different: max(0, margin - d)^2;  averaged over pairs.
torch::Tensor pairwise_contrastive_loss(const torch::Tensor& embeddings, const torch::Tensor& labels,
                                       double margin = 1.0, bool normalize = false);

}  // namespace fedsign::train
