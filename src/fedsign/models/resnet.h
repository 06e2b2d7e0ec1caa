// "resnet18" / "resnet50": torchvision 0.14's ResNet (v1.5: stride on the 3x3 conv of a
// bottleneck), module for module, so the state-dict keys are torchvision's (conv1, bn1,
// layer1.0.conv1, layer2.0.downsample.0, ..., fc) and exported ImageNet weights load unchanged.
// The ImageNet stem (7x7/2 conv + 3x3/2 max pool) is kept, so a 32 px input reaches layer4 at
// 1x1 - it works, it is just not what these networks were designed for.
//
// Groups: "stem" (conv1, bn1), "layer1".."layer4", "head" (fc). reset_head replaces fc.
#pragma once

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include "fedsign/models/classifier.h"
#include "fedsign/models/registry.h"

namespace fedsign::models {

// Two 3x3 convs (resnet18/34).
class BasicBlockImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 1;
  BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride,
                 torch::nn::Sequential downsample);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Sequential downsample{nullptr};  // registered only when present, as in torchvision
};
TORCH_MODULE(BasicBlock);

// 1x1 reduce, 3x3 (strided), 1x1 expand x4 (resnet50/101/152).
class BottleneckImpl : public torch::nn::Module {
 public:
  static constexpr int64_t kExpansion = 4;
  BottleneckImpl(int64_t in_planes, int64_t planes, int64_t stride,
                 torch::nn::Sequential downsample);
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Bottleneck);

enum class ResNetDepth { resnet18, resnet50 };

class ResNetImpl : public Classifier {
 public:
  explicit ResNetImpl(ResNetDepth depth, const ModelOptions& options = {});

  torch::Tensor embed(const torch::Tensor& x) override;
  torch::Tensor classify(const torch::Tensor& embedding) override;
  torch::Tensor feature_map(const torch::Tensor& x) override;
  torch::Tensor pool_features(const torch::Tensor& map) override;
  void reset_head(int64_t num_classes) override;
  std::vector<std::string> layer_groups() const override;
  std::string group_of(const std::string& parameter_name) const override;
  int64_t num_classes() const override { return num_classes_; }
  int64_t embedding_dim() const override { return embedding_dim_; }  // 512 or 2048

  torch::nn::Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
  torch::nn::Linear fc{nullptr};

 private:
  std::string name_;
  int64_t embedding_dim_;
  int64_t num_classes_;
};
TORCH_MODULE(ResNet);

}  // namespace fedsign::models
