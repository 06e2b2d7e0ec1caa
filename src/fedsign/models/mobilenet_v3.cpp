#include "fedsign/models/mobilenet_v3.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/linear.h>

#include <algorithm>

#include "fedsign/core/check.h"
#include "fedsign/models/layers.h"

namespace fedsign::models {
namespace {

constexpr double kBnEps = 0.001;
constexpr double kBnMomentum = 0.01;

// torchvision.models._utils._make_divisible: round to a multiple of 8, never down by > 10%.
int64_t make_divisible(double value, int64_t divisor = 8) {
  int64_t rounded =
      std::max(divisor, static_cast<int64_t>(value + divisor / 2.0) / divisor * divisor);
  if (rounded < 0.9 * value) rounded += divisor;
  return rounded;
}

ConvNormOptions conv_options(int64_t kernel, int64_t stride, int64_t groups, int64_t dilation,
                             Activation activation) {
  return {.kernel_size = kernel,
          .stride = stride,
          .groups = groups,
          .dilation = dilation,
          .activation = activation,
          .bn_eps = kBnEps,
          .bn_momentum = kBnMomentum};
}

// torchvision 0.14 _mobilenet_v3_conf (width_mult 1, no reduced tail, no dilation).
std::vector<InvertedResidualConfig> block_configs(MobileNetV3Variant variant) {
  if (variant == MobileNetV3Variant::large) {
    return {
        {16, 3, 16, 16, false, false, 1},  {16, 3, 64, 24, false, false, 2},
        {24, 3, 72, 24, false, false, 1},  {24, 5, 72, 40, true, false, 2},
        {40, 5, 120, 40, true, false, 1},  {40, 5, 120, 40, true, false, 1},
        {40, 3, 240, 80, false, true, 2},  {80, 3, 200, 80, false, true, 1},
        {80, 3, 184, 80, false, true, 1},  {80, 3, 184, 80, false, true, 1},
        {80, 3, 480, 112, true, true, 1},  {112, 3, 672, 112, true, true, 1},
        {112, 5, 672, 160, true, true, 2}, {160, 5, 960, 160, true, true, 1},
        {160, 5, 960, 160, true, true, 1},
    };
  }
  return {
      {16, 3, 16, 16, true, false, 2},  {16, 3, 72, 24, false, false, 2},
      {24, 3, 88, 24, false, false, 1}, {24, 5, 96, 40, true, true, 2},
      {40, 5, 240, 40, true, true, 1},  {40, 5, 240, 40, true, true, 1},
      {40, 5, 120, 48, true, true, 1},  {48, 5, 144, 48, true, true, 1},
      {48, 5, 288, 96, true, true, 2},  {96, 5, 576, 96, true, true, 1},
      {96, 5, 576, 96, true, true, 1},
  };
}

torch::nn::Linear make_output_layer(int64_t in_features, int64_t num_classes) {
  torch::nn::Linear linear(in_features, num_classes);
  torch::nn::init::normal_(linear->weight, 0.0, 0.01);
  torch::nn::init::zeros_(linear->bias);
  return linear;
}

}  // namespace

SqueezeExcitationImpl::SqueezeExcitationImpl(int64_t input_channels, int64_t squeeze_channels) {
  fc1 = register_module(
      "fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(input_channels, squeeze_channels, 1)));
  fc2 = register_module(
      "fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(squeeze_channels, input_channels, 1)));
}

torch::Tensor SqueezeExcitationImpl::forward(const torch::Tensor& x) {
  auto scale = torch::adaptive_avg_pool2d(x, {1, 1});
  scale = torch::hardsigmoid(fc2->forward(torch::relu(fc1->forward(scale))));
  return scale * x;
}

InvertedResidualImpl::InvertedResidualImpl(const InvertedResidualConfig& c)
    : use_residual_(c.stride == 1 && c.input_channels == c.out_channels) {
  FEDSIGN_CHECK(c.stride == 1 || c.stride == 2, "illegal stride value {}", c.stride);
  const Activation activation = c.use_hardswish ? Activation::hardswish : Activation::relu;
  torch::nn::Sequential layers;
  if (c.expanded_channels != c.input_channels) {
    layers->push_back(ConvNormActivation(c.input_channels, c.expanded_channels,
                                         conv_options(1, 1, 1, 1, activation)));
  }
  const int64_t stride = c.dilation > 1 ? 1 : c.stride;
  layers->push_back(ConvNormActivation(
      c.expanded_channels, c.expanded_channels,
      conv_options(c.kernel, stride, c.expanded_channels, c.dilation, activation)));
  if (c.use_se) {
    layers->push_back(
        SqueezeExcitation(c.expanded_channels, make_divisible(c.expanded_channels / 4)));
  }
  layers->push_back(ConvNormActivation(c.expanded_channels, c.out_channels,
                                       conv_options(1, 1, 1, 1, Activation::none)));
  block = register_module("block", layers);
}

torch::Tensor InvertedResidualImpl::forward(const torch::Tensor& x) {
  auto result = block->forward(x);
  if (use_residual_) result = result + x;
  return result;
}

MobileNetV3Impl::MobileNetV3Impl(MobileNetV3Variant variant, const ModelOptions& options)
    : name_(variant == MobileNetV3Variant::small ? "mobilenet_v3_small" : "mobilenet_v3_large"),
      num_classes_(options.num_classes) {
  FEDSIGN_CHECK(options.num_classes >= 1, "{}: num_classes must be >= 1, got {}", name_,
                options.num_classes);
  const auto configs = block_configs(variant);
  num_blocks_ = static_cast<int64_t>(configs.size());
  last_conv_channels_ = 6 * configs.back().out_channels;
  last_channel_ = make_divisible(variant == MobileNetV3Variant::small ? 1024 : 1280);

  torch::nn::Sequential layers;
  layers->push_back(ConvNormActivation(3, configs.front().input_channels,
                                       conv_options(3, 2, 1, 1, Activation::hardswish)));
  for (const auto& config : configs) layers->push_back(InvertedResidual(config));
  layers->push_back(ConvNormActivation(configs.back().out_channels, last_conv_channels_,
                                       conv_options(1, 1, 1, 1, Activation::hardswish)));
  features = register_module("features", layers);

  torch::nn::Sequential head;
  head->push_back(torch::nn::Linear(last_conv_channels_, last_channel_));
  head->push_back(Hardswish());
  head->push_back(Dropout(dropout_or_default(options.dropout, kDefaultDropout)));
  head->push_back(torch::nn::Linear(last_channel_, options.num_classes));
  classifier = register_module("classifier", head);

  // torchvision's init: He (fan_out) convs with zero bias, BN as identity, N(0, 0.01) linears.
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2dImpl>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut);
      if (conv->bias.defined()) torch::nn::init::zeros_(conv->bias);
    } else if (auto* bn = module->as<torch::nn::BatchNorm2dImpl>()) {
      torch::nn::init::ones_(bn->weight);
      torch::nn::init::zeros_(bn->bias);
    } else if (auto* linear = module->as<torch::nn::LinearImpl>()) {
      torch::nn::init::normal_(linear->weight, 0.0, 0.01);
      torch::nn::init::zeros_(linear->bias);
    }
  }
}

torch::Tensor MobileNetV3Impl::feature_map(const torch::Tensor& x) { return features->forward(x); }

torch::Tensor MobileNetV3Impl::pool_features(const torch::Tensor& map) {
  return torch::flatten(torch::adaptive_avg_pool2d(map, {1, 1}), 1);
}

torch::Tensor MobileNetV3Impl::embed(const torch::Tensor& x) {
  return pool_features(feature_map(x));
}

torch::Tensor MobileNetV3Impl::classify(const torch::Tensor& embedding) {
  return classifier->forward(embedding);
}

void MobileNetV3Impl::reset_head(int64_t num_classes) {
  FEDSIGN_CHECK(num_classes >= 1, "{}: num_classes must be >= 1, got {}", name_, num_classes);
  // Rebuild the Sequential around the kept classifier.0 / dropout so only classifier.3 is new.
  torch::nn::Sequential head;
  head->push_back(torch::nn::Linear(classifier->ptr<torch::nn::LinearImpl>(0)));
  head->push_back(Hardswish(classifier->ptr<HardswishImpl>(1)));
  head->push_back(Dropout(classifier->ptr<DropoutImpl>(2)));
  auto fresh = make_output_layer(last_channel_, num_classes);
  match_device_and_dtype(*fresh, classifier->ptr<torch::nn::LinearImpl>(3)->weight);
  head->push_back(fresh);
  replace_module("classifier", head);
  classifier = head;
  num_classes_ = num_classes;
}

std::vector<std::string> MobileNetV3Impl::layer_groups() const {
  std::vector<std::string> groups{"stem"};
  for (int64_t i = 1; i <= num_blocks_; ++i) groups.push_back("block" + std::to_string(i));
  groups.emplace_back("last_conv");
  groups.emplace_back("head");
  return groups;
}

std::string MobileNetV3Impl::group_of(const std::string& parameter_name) const {
  if (first_component(parameter_name) == "classifier") return "head";
  if (const auto index = index_after(parameter_name, "features")) {
    if (*index == 0) return "stem";
    if (*index <= num_blocks_) return "block" + std::to_string(*index);
    if (*index == num_blocks_ + 1) return "last_conv";
  }
  FEDSIGN_FAIL("{}: no layer group for parameter '{}'", name_, parameter_name);
}

}  // namespace fedsign::models
