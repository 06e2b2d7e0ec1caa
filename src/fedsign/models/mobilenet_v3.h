// "mobilenet_v3_small" / "mobilenet_v3_large": torchvision 0.14's MobileNetV3, module for module,
// so the state-dict keys are torchvision's (features.0.0.weight, features.1.block.0.0.weight,
// features.N.block.k.fc1.weight for squeeze-excitation, classifier.0/3.weight) and a state dict
// exported from Python (scripts/export_torchvision.py) loads unchanged. Same inverted-residual
// tables, Hardswish, SE with hardsigmoid, BN eps 0.001 / momentum 0.01 and weight init.
//
// Groups: "stem" (features.0), "block1".."blockK" (features.i), "last_conv" (the final 1x1 conv,
// features.K+1) and "head" (classifier). reset_head replaces classifier.3 only.
#pragma once

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include "fedsign/models/classifier.h"
#include "fedsign/models/registry.h"

namespace fedsign::models {

// One row of tables 1/2 of the MobileNetV3 paper (torchvision's InvertedResidualConfig).
struct InvertedResidualConfig {
  int64_t input_channels;
  int64_t kernel;
  int64_t expanded_channels;
  int64_t out_channels;
  bool use_se;
  bool use_hardswish;  // "HS", else ReLU ("RE")
  int64_t stride;
  int64_t dilation = 1;
};

// torchvision.ops.SqueezeExcitation(scale_activation=Hardsigmoid): keys fc1.*, fc2.*.
class SqueezeExcitationImpl : public torch::nn::Module {
 public:
  SqueezeExcitationImpl(int64_t input_channels, int64_t squeeze_channels);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Conv2d fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(SqueezeExcitation);

// torchvision's InvertedResidual: block = [expand 1x1] + depthwise kxk + [SE] + project 1x1.
class InvertedResidualImpl : public torch::nn::Module {
 public:
  explicit InvertedResidualImpl(const InvertedResidualConfig& config);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Sequential block{nullptr};

 private:
  bool use_residual_;
};
TORCH_MODULE(InvertedResidual);

enum class MobileNetV3Variant { small, large };

class MobileNetV3Impl : public Classifier {
 public:
  static constexpr double kDefaultDropout = 0.2;

  explicit MobileNetV3Impl(MobileNetV3Variant variant, const ModelOptions& options = {});

  torch::Tensor embed(const torch::Tensor& x) override;
  torch::Tensor classify(const torch::Tensor& embedding) override;
  torch::Tensor feature_map(const torch::Tensor& x) override;
  torch::Tensor pool_features(const torch::Tensor& map) override;
  void reset_head(int64_t num_classes) override;
  std::vector<std::string> layer_groups() const override;
  std::string group_of(const std::string& parameter_name) const override;
  int64_t num_classes() const override { return num_classes_; }
  // Channels of the last conv (576 small, 960 large): the embedding is its global average.
  int64_t embedding_dim() const override { return last_conv_channels_; }

  torch::nn::Sequential features{nullptr};
  torch::nn::Sequential classifier{nullptr};

 private:
  std::string name_;
  int64_t num_blocks_;
  int64_t last_conv_channels_;
  int64_t last_channel_;
  int64_t num_classes_;
};
TORCH_MODULE(MobileNetV3);

}  // namespace fedsign::models
