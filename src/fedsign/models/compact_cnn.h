// "compact": fedsign's own CNN for 32-48 px traffic-sign crops (~0.59M parameters, ~43M MACs at
// 32 px). Built for accuracy per FLOP on GTSRB, where signs are small, centred and low-detail:
// three VGG-style stages [conv3x3-BN-ReLU x2, maxpool 2] of 32/64/128 channels, a fourth
// conv3x3-BN-ReLU stage to 256 channels at 1/8 resolution, global average pooling (so any input
// side >= 8 px works), dropout and a linear head. Small enough that FedAvg rounds stay cheap.
#pragma once

#include <torch/nn/modules/container/sequential.h>
#include "fedsign/models/layers.h"
#include <torch/nn/modules/linear.h>

#include <array>

#include "fedsign/models/classifier.h"
#include "fedsign/models/registry.h"

namespace fedsign::models {

class CompactCnnImpl : public Classifier {
 public:
  static constexpr double kDefaultDropout = 0.3;

  explicit CompactCnnImpl(const ModelOptions& options = {});

  torch::Tensor embed(const torch::Tensor& x) override;
  torch::Tensor classify(const torch::Tensor& embedding) override;
  torch::Tensor feature_map(const torch::Tensor& x) override;
  torch::Tensor pool_features(const torch::Tensor& map) override;
  void reset_head(int64_t num_classes) override;
  std::vector<std::string> layer_groups() const override;
  std::string group_of(const std::string& parameter_name) const override;
  int64_t num_classes() const override { return num_classes_; }
  int64_t embedding_dim() const override { return kWidths.back(); }

  static constexpr std::array<int64_t, 4> kWidths{32, 64, 128, 256};

  torch::nn::Sequential stage1{nullptr}, stage2{nullptr}, stage3{nullptr}, stage4{nullptr};
  Dropout dropout{nullptr};
  torch::nn::Linear head{nullptr};

 private:
  int64_t num_classes_;
};
TORCH_MODULE(CompactCnn);

}  // namespace fedsign::models
