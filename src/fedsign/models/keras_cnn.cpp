#include "fedsign/models/keras_cnn.h"

#include <torch/nn/init.h>

#include "fedsign/core/check.h"
#include "fedsign/models/layers.h"

namespace fedsign::models {

namespace {
void init_keras(torch::Tensor& weight, torch::Tensor& bias) {
  torch::nn::init::xavier_uniform_(weight);
  torch::nn::init::zeros_(bias);
}
}  // namespace

int64_t KerasCnnImpl::pooled_side(int64_t input_size) { return ((input_size - 2) / 2 - 2) / 2; }

KerasCnnImpl::KerasCnnImpl(const ModelOptions& options)
    : num_classes_(options.num_classes), input_size_(options.input_size) {
  FEDSIGN_CHECK(options.num_classes >= 1, "keras_cnn: num_classes must be >= 1, got {}",
                options.num_classes);
  FEDSIGN_CHECK(options.input_size >= 10, "keras_cnn: input_size must be >= 10 px, got {}",
                options.input_size);
  const int64_t side = pooled_side(options.input_size);
  conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 32, 3)));
  conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(32, 32, 3)));
  dense1 = register_module("dense1", torch::nn::Linear(32 * side * side, kHidden));
  dense2 = register_module("dense2", torch::nn::Linear(kHidden, kHidden));
  dropout = register_module(
      "dropout", Dropout(dropout_or_default(options.dropout, kDefaultDropout)));
  head = register_module("head", torch::nn::Linear(kHidden, options.num_classes));

  // Keras defaults: Glorot-uniform kernels, zero biases.
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2dImpl>()) init_keras(conv->weight, conv->bias);
    if (auto* linear = module->as<torch::nn::LinearImpl>())
      init_keras(linear->weight, linear->bias);
  }
}

torch::Tensor KerasCnnImpl::feature_map(const torch::Tensor& x) {
  FEDSIGN_CHECK(x.dim() == 4 && x.size(2) == input_size_ && x.size(3) == input_size_,
                "keras_cnn: built for {0}x{0} px input, got {1}", input_size_,
                shape_string(x.sizes()));
  const auto pooled = torch::max_pool2d(torch::relu(conv1->forward(x)), 2);
  return torch::relu(conv2->forward(pooled));
}

torch::Tensor KerasCnnImpl::pool_features(const torch::Tensor& map) {
  auto h = torch::flatten(torch::max_pool2d(map, 2), 1);
  h = dropout->forward(torch::relu(dense1->forward(h)));
  return dropout->forward(torch::relu(dense2->forward(h)));
}

torch::Tensor KerasCnnImpl::embed(const torch::Tensor& x) { return pool_features(feature_map(x)); }

torch::Tensor KerasCnnImpl::classify(const torch::Tensor& embedding) {
  return head->forward(embedding);
}

void KerasCnnImpl::reset_head(int64_t num_classes) {
  FEDSIGN_CHECK(num_classes >= 1, "keras_cnn: num_classes must be >= 1, got {}", num_classes);
  torch::nn::Linear fresh(kHidden, num_classes);
  init_keras(fresh->weight, fresh->bias);
  match_device_and_dtype(*fresh, head->weight);
  replace_module("head", fresh);
  head = fresh;
  num_classes_ = num_classes;
}

std::vector<std::string> KerasCnnImpl::layer_groups() const { return {"conv", "dense", "head"}; }

std::string KerasCnnImpl::group_of(const std::string& parameter_name) const {
  const std::string first = first_component(parameter_name);
  if (first == "conv1" || first == "conv2") return "conv";
  if (first == "dense1" || first == "dense2") return "dense";
  if (first == "head") return "head";
  FEDSIGN_FAIL("keras_cnn: no layer group for parameter '{}'", parameter_name);
}

}  // namespace fedsign::models
