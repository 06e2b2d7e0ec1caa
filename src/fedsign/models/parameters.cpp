#include <torch/nn/module.h>

#include "fedsign/models/registry.h"

namespace fedsign::models {

int64_t count_parameters(const torch::nn::Module& model, bool trainable_only) {
  int64_t total = 0;
  for (const auto& p : model.parameters()) {
    if (!trainable_only || p.requires_grad()) total += p.numel();
  }
  return total;
}

}  // namespace fedsign::models
