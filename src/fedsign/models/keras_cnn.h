// "keras_cnn": the small CNN of the classic Keras FedAvg tutorial, fedsign's FedAvg baseline:
// conv(32, 3x3, valid)-ReLU-maxpool2 -> conv(32, 3x3, valid)-ReLU-maxpool2 -> flatten ->
// dense128-ReLU-dropout -> dense128-ReLU-dropout -> dense(num_classes). The softmax is in the
// loss. The flatten size depends on the input side, so it is computed from options.input_size
// (32 px: 32*6*6 = 1152 inputs to dense1, 179,787 parameters with 43 classes).
#pragma once

#include <torch/nn/modules/conv.h>
#include "fedsign/models/layers.h"
#include <torch/nn/modules/linear.h>

#include "fedsign/models/classifier.h"
#include "fedsign/models/registry.h"

namespace fedsign::models {

class KerasCnnImpl : public Classifier {
 public:
  static constexpr double kDefaultDropout = 0.5;
  static constexpr int64_t kHidden = 128;

  explicit KerasCnnImpl(const ModelOptions& options = {});

  // feature_map is the ReLU output of conv2 (before its max pool, for a finer Grad-CAM map);
  // pool_features applies that pool, flattens and runs the two dense layers.
  torch::Tensor embed(const torch::Tensor& x) override;
  torch::Tensor classify(const torch::Tensor& embedding) override;
  torch::Tensor feature_map(const torch::Tensor& x) override;
  torch::Tensor pool_features(const torch::Tensor& map) override;
  void reset_head(int64_t num_classes) override;
  std::vector<std::string> layer_groups() const override;
  std::string group_of(const std::string& parameter_name) const override;
  int64_t num_classes() const override { return num_classes_; }
  int64_t embedding_dim() const override { return kHidden; }

  // Side of conv2's pooled output for an input of `input_size` px (32 -> 6).
  static int64_t pooled_side(int64_t input_size);

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::Linear dense1{nullptr}, dense2{nullptr};
  Dropout dropout{nullptr};
  torch::nn::Linear head{nullptr};

 private:
  int64_t num_classes_;
  int64_t input_size_;
};
TORCH_MODULE(KerasCnn);

}  // namespace fedsign::models
