#include "fedsign/models/compact_stn.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/pooling.h>

#include "fedsign/models/layers.h"

namespace fedsign::models {

namespace {
constexpr int64_t kLocalizationWidth = 64;  // features into the transform's regression
}  // namespace

CompactStnImpl::CompactStnImpl(const ModelOptions& options) : CompactCnnImpl(options) {
  namespace nn = torch::nn;
  // Two strided conv-BN-ReLU stages, then global pooling: cheap (a few MFLOPs at 32 px) and, like
  // the classifier, independent of the input side.
  localization = register_module(
      "localization",
      nn::Sequential(nn::Conv2d(nn::Conv2dOptions(3, 16, 5).stride(2).padding(2).bias(false)),
                     nn::BatchNorm2d(16), nn::ReLU(nn::ReLUOptions().inplace(true)),
                     nn::Conv2d(nn::Conv2dOptions(16, 32, 3).stride(2).padding(1).bias(false)),
                     nn::BatchNorm2d(32), nn::ReLU(nn::ReLUOptions().inplace(true)),
                     nn::Conv2d(nn::Conv2dOptions(32, kLocalizationWidth, 3).padding(1).bias(false)),
                     nn::BatchNorm2d(kLocalizationWidth), nn::ReLU(nn::ReLUOptions().inplace(true)),
                     nn::AdaptiveAvgPool2d(nn::AdaptiveAvgPool2dOptions({1, 1})), nn::Flatten()));
  localization_head = register_module("localization_head", nn::Linear(kLocalizationWidth, 6));
  torch::NoGradGuard no_grad;
  for (auto& module : localization->modules(/*include_self=*/false)) {
    if (auto* conv = module->as<nn::Conv2dImpl>()) {
      nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
    }
  }
  // Identity transform at the start, learned from there.
  localization_head->weight.zero_();
  localization_head->bias.copy_(torch::tensor({1.0f, 0.0f, 0.0f, 0.0f, 1.0f, 0.0f}));
}

torch::Tensor CompactStnImpl::theta(const torch::Tensor& x) {
  return localization_head->forward(localization->forward(x)).view({-1, 2, 3});
}

torch::Tensor CompactStnImpl::transform(const torch::Tensor& x) {
  return affine_resample(x, theta(x));
}

torch::Tensor CompactStnImpl::feature_map(const torch::Tensor& x) {
  return CompactCnnImpl::feature_map(transform(x));
}

std::vector<std::string> CompactStnImpl::layer_groups() const {
  auto groups = CompactCnnImpl::layer_groups();
  groups.insert(groups.begin(), "localization");
  return groups;
}

std::string CompactStnImpl::group_of(const std::string& parameter_name) const {
  const std::string first = first_component(parameter_name);
  if (first == "localization" || first == "localization_head") return "localization";
  return CompactCnnImpl::group_of(parameter_name);
}

}  // namespace fedsign::models
