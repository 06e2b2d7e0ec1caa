// Base class of every fedsign model: an image classifier split into a feature body and a head.
//
// Subclasses follow LibTorch's idiom (register_module names == member names, so they become the
// state-dict keys) and, for torchvision architectures, torchvision's exact parameter names so a
// state dict exported from Python loads unchanged. Not thread-safe: one model per thread.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <string>
#include <vector>

namespace fedsign::models {

class Classifier : public torch::nn::Module {
 public:
  // x: N x 3 x H x W float, normalized (see input_normalization). Returns N x num_classes logits.
  torch::Tensor forward(const torch::Tensor& x) { return classify(embed(x)); }

  // Features before the head: N x embedding_dim (after global pooling / flattening).
  virtual torch::Tensor embed(const torch::Tensor& x) = 0;
  // Head: embedding -> logits.
  virtual torch::Tensor classify(const torch::Tensor& embedding) = 0;

  // Last convolutional feature map (N x C x h x w), for Grad-CAM; and the rest of the network
  // from that map to the embedding.
  virtual torch::Tensor feature_map(const torch::Tensor& x) = 0;
  virtual torch::Tensor pool_features(const torch::Tensor& map) = 0;

  // Replaces the head with a freshly initialized one for `num_classes` outputs.
  virtual void reset_head(int64_t num_classes) = 0;

  // Layer groups from input to output (e.g. "stem", "block1", ..., "head"), the unit of
  // freezing for fine-tuning. group_of() maps a parameter name to its group.
  virtual std::vector<std::string> layer_groups() const = 0;
  virtual std::string group_of(const std::string& parameter_name) const = 0;

  virtual int64_t num_classes() const = 0;
  virtual int64_t embedding_dim() const = 0;
};

}  // namespace fedsign::models
