#include "fedsign/models/compact_cnn.h"

#include <torch/nn/functional/pooling.h>
#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/pooling.h>

#include "fedsign/core/check.h"
#include "fedsign/models/layers.h"

namespace fedsign::models {
namespace {

// [conv3x3-BN-ReLU] x convs, then an optional 2x2 max pool.
torch::nn::Sequential make_stage(int64_t in_channels, int64_t out_channels, int convs, bool pool) {
  torch::nn::Sequential stage;
  for (int i = 0; i < convs; ++i) {
    stage->push_back(torch::nn::Conv2d(
        torch::nn::Conv2dOptions(i == 0 ? in_channels : out_channels, out_channels, 3)
            .padding(1)
            .bias(false)));
    stage->push_back(torch::nn::BatchNorm2d(out_channels));
    stage->push_back(torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
  }
  if (pool) stage->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2)));
  return stage;
}

}  // namespace

CompactCnnImpl::CompactCnnImpl(const ModelOptions& options) : num_classes_(options.num_classes) {
  FEDSIGN_CHECK(options.num_classes >= 1, "compact: num_classes must be >= 1, got {}",
                options.num_classes);
  FEDSIGN_CHECK(options.input_size >= 8, "compact: input_size must be >= 8 px, got {}",
                options.input_size);
  stage1 = register_module("stage1", make_stage(3, kWidths[0], 2, true));
  stage2 = register_module("stage2", make_stage(kWidths[0], kWidths[1], 2, true));
  stage3 = register_module("stage3", make_stage(kWidths[1], kWidths[2], 2, true));
  stage4 = register_module("stage4", make_stage(kWidths[2], kWidths[3], 1, false));
  dropout = register_module(
      "dropout", Dropout(dropout_or_default(options.dropout, kDefaultDropout)));
  head = register_module("head", torch::nn::Linear(kWidths[3], options.num_classes));

  // He init for the ReLU convs (as torchvision's ResNet); BN starts as identity; default head.
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2dImpl>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
    }
  }
}

torch::Tensor CompactCnnImpl::feature_map(const torch::Tensor& x) {
  return stage4->forward(stage3->forward(stage2->forward(stage1->forward(x))));
}

torch::Tensor CompactCnnImpl::pool_features(const torch::Tensor& map) {
  return torch::flatten(torch::adaptive_avg_pool2d(map, {1, 1}), 1);
}

torch::Tensor CompactCnnImpl::embed(const torch::Tensor& x) {
  return pool_features(feature_map(x));
}

torch::Tensor CompactCnnImpl::classify(const torch::Tensor& embedding) {
  return head->forward(dropout->forward(embedding));
}

void CompactCnnImpl::reset_head(int64_t num_classes) {
  FEDSIGN_CHECK(num_classes >= 1, "compact: num_classes must be >= 1, got {}", num_classes);
  torch::nn::Linear fresh(kWidths[3], num_classes);
  match_device_and_dtype(*fresh, head->weight);
  replace_module("head", fresh);
  head = fresh;
  num_classes_ = num_classes;
}

std::vector<std::string> CompactCnnImpl::layer_groups() const {
  return {"stage1", "stage2", "stage3", "stage4", "head"};
}

std::string CompactCnnImpl::group_of(const std::string& parameter_name) const {
  const std::string first = first_component(parameter_name);
  for (const auto& group : layer_groups()) {
    if (first == group) return group;
  }
  FEDSIGN_FAIL("compact: no layer group for parameter '{}'", parameter_name);
}

}  // namespace fedsign::models
