// "compact_stn": the compact CNN behind a spatial transformer (Jaderberg et al. 2015), the
// design of the strongest published GTSRB classifiers (Arcos-Garcia et al. 2018). A small
// localization network looks at the input and predicts an affine transform; the image is
// resampled through it (bilinear, border pixels repeated) before the compact CNN sees it, so
// the network can undo the off-centre, scaled and skewed crops of real tracks. The transform
// starts as the identity (the last layer is zero with an identity bias): at initialization the
// model computes exactly what "compact" computes. 24,854 parameters on top of compact's 593,931.
#pragma once

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>

#include "fedsign/models/compact_cnn.h"

namespace fedsign::models {

class CompactStnImpl : public CompactCnnImpl {
 public:
  explicit CompactStnImpl(const ModelOptions& options = {});

  // The resampled input the compact CNN sees (N x 3 x H x W, same layout as x).
  torch::Tensor transform(const torch::Tensor& x);
  // The predicted affine transforms, N x 2 x 3 (normalized coordinates, as affine_grid takes).
  torch::Tensor theta(const torch::Tensor& x);

  torch::Tensor feature_map(const torch::Tensor& x) override;
  std::vector<std::string> layer_groups() const override;
  std::string group_of(const std::string& parameter_name) const override;

  torch::nn::Sequential localization{nullptr};
  torch::nn::Linear localization_head{nullptr};
};
TORCH_MODULE(CompactStn);

}  // namespace fedsign::models
