#include "fedsign/models/resnet.h"

#include <torch/nn/init.h>

#include <array>

#include "fedsign/core/check.h"
#include "fedsign/models/layers.h"

namespace fedsign::models {
namespace {

torch::nn::Conv2d conv3x3(int64_t in_planes, int64_t out_planes, int64_t stride = 1) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in_planes, out_planes, 3).stride(stride).padding(1).bias(false));
}

torch::nn::Conv2d conv1x1(int64_t in_planes, int64_t out_planes, int64_t stride = 1) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in_planes, out_planes, 1).stride(stride).bias(false));
}

// torchvision ResNet._make_layer: `blocks` blocks, the first one strided and with a
// conv1x1+BN downsample when the shape changes. Updates `in_planes`.
template <typename Block>
torch::nn::Sequential make_layer(int64_t& in_planes, int64_t planes, int64_t blocks,
                                 int64_t stride) {
  const int64_t out_planes = planes * Block::ContainedType::kExpansion;
  torch::nn::Sequential downsample{nullptr};
  if (stride != 1 || in_planes != out_planes) {
    downsample = torch::nn::Sequential(conv1x1(in_planes, out_planes, stride),
                                       torch::nn::BatchNorm2d(out_planes));
  }
  torch::nn::Sequential layer;
  layer->push_back(Block(in_planes, planes, stride, downsample));
  in_planes = out_planes;
  for (int64_t i = 1; i < blocks; ++i) {
    layer->push_back(Block(in_planes, planes, 1, torch::nn::Sequential{nullptr}));
  }
  return layer;
}

}  // namespace

BasicBlockImpl::BasicBlockImpl(int64_t in_planes, int64_t planes, int64_t stride,
                               torch::nn::Sequential downsample_layers) {
  conv1 = register_module("conv1", conv3x3(in_planes, planes, stride));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(planes));
  conv2 = register_module("conv2", conv3x3(planes, planes));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(planes));
  if (!downsample_layers.is_empty()) {
    downsample = register_module("downsample", downsample_layers);
  }
}

torch::Tensor BasicBlockImpl::forward(const torch::Tensor& x) {
  auto out = torch::relu(bn1->forward(conv1->forward(x)));
  out = bn2->forward(conv2->forward(out));
  const auto identity = downsample.is_empty() ? x : downsample->forward(x);
  return torch::relu(out + identity);
}

BottleneckImpl::BottleneckImpl(int64_t in_planes, int64_t planes, int64_t stride,
                               torch::nn::Sequential downsample_layers) {
  conv1 = register_module("conv1", conv1x1(in_planes, planes));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(planes));
  conv2 = register_module("conv2", conv3x3(planes, planes, stride));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(planes));
  conv3 = register_module("conv3", conv1x1(planes, planes * kExpansion));
  bn3 = register_module("bn3", torch::nn::BatchNorm2d(planes * kExpansion));
  if (!downsample_layers.is_empty()) {
    downsample = register_module("downsample", downsample_layers);
  }
}

torch::Tensor BottleneckImpl::forward(const torch::Tensor& x) {
  auto out = torch::relu(bn1->forward(conv1->forward(x)));
  out = torch::relu(bn2->forward(conv2->forward(out)));
  out = bn3->forward(conv3->forward(out));
  const auto identity = downsample.is_empty() ? x : downsample->forward(x);
  return torch::relu(out + identity);
}

ResNetImpl::ResNetImpl(ResNetDepth depth, const ModelOptions& options)
    : name_(depth == ResNetDepth::resnet18 ? "resnet18" : "resnet50"),
      num_classes_(options.num_classes) {
  FEDSIGN_CHECK(options.num_classes >= 1, "{}: num_classes must be >= 1, got {}", name_,
                options.num_classes);
  // options.dropout is ignored: torchvision's ResNet has no dropout.
  conv1 = register_module(
      "conv1",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 64, 7).stride(2).padding(3).bias(false)));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(64));
  int64_t in_planes = 64;
  const std::array<int64_t, 4> planes{64, 128, 256, 512};
  const std::array<int64_t, 4> blocks = depth == ResNetDepth::resnet18
                                            ? std::array<int64_t, 4>{2, 2, 2, 2}
                                            : std::array<int64_t, 4>{3, 4, 6, 3};
  std::array<torch::nn::Sequential, 4> layers{nullptr, nullptr, nullptr, nullptr};
  for (size_t i = 0; i < 4; ++i) {
    const int64_t stride = i == 0 ? 1 : 2;
    layers[i] = depth == ResNetDepth::resnet18
                    ? make_layer<BasicBlock>(in_planes, planes[i], blocks[i], stride)
                    : make_layer<Bottleneck>(in_planes, planes[i], blocks[i], stride);
  }
  layer1 = register_module("layer1", layers[0]);
  layer2 = register_module("layer2", layers[1]);
  layer3 = register_module("layer3", layers[2]);
  layer4 = register_module("layer4", layers[3]);
  embedding_dim_ = in_planes;
  fc = register_module("fc", torch::nn::Linear(embedding_dim_, options.num_classes));

  // torchvision's init: He (fan_out, ReLU) convs, BN as identity, default-initialized fc.
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2dImpl>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = module->as<torch::nn::BatchNorm2dImpl>()) {
      torch::nn::init::ones_(bn->weight);
      torch::nn::init::zeros_(bn->bias);
    }
  }
}

torch::Tensor ResNetImpl::feature_map(const torch::Tensor& x) {
  auto h = torch::relu(bn1->forward(conv1->forward(x)));
  h = torch::max_pool2d(h, /*kernel_size=*/3, /*stride=*/2, /*padding=*/1);
  return layer4->forward(layer3->forward(layer2->forward(layer1->forward(h))));
}

torch::Tensor ResNetImpl::pool_features(const torch::Tensor& map) {
  return torch::flatten(torch::adaptive_avg_pool2d(map, {1, 1}), 1);
}

torch::Tensor ResNetImpl::embed(const torch::Tensor& x) { return pool_features(feature_map(x)); }

torch::Tensor ResNetImpl::classify(const torch::Tensor& embedding) {
  return fc->forward(embedding);
}

void ResNetImpl::reset_head(int64_t num_classes) {
  FEDSIGN_CHECK(num_classes >= 1, "{}: num_classes must be >= 1, got {}", name_, num_classes);
  torch::nn::Linear fresh(embedding_dim_, num_classes);
  match_device_and_dtype(*fresh, fc->weight);
  replace_module("fc", fresh);
  fc = fresh;
  num_classes_ = num_classes;
}

std::vector<std::string> ResNetImpl::layer_groups() const {
  return {"stem", "layer1", "layer2", "layer3", "layer4", "head"};
}

std::string ResNetImpl::group_of(const std::string& parameter_name) const {
  const std::string first = first_component(parameter_name);
  if (first == "conv1" || first == "bn1") return "stem";
  if (first == "fc") return "head";
  if (first == "layer1" || first == "layer2" || first == "layer3" || first == "layer4")
    return first;
  FEDSIGN_FAIL("{}: no layer group for parameter '{}'", name_, parameter_name);
}

}  // namespace fedsign::models
