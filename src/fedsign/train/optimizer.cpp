#include "fedsign/train/optimizer.h"

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>

#include "fedsign/core/check.h"

namespace fedsign::train {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<torch::Tensor>& parameters,
                                                        const OptimizerConfig& c) {
  std::vector<torch::Tensor> trainable;
  for (const auto& p : parameters) {
    if (p.requires_grad()) trainable.push_back(p);
  }
  FEDSIGN_CHECK(!trainable.empty(), "no trainable parameters (every layer group is frozen)");
  if (c.name == "adam") {
    return std::make_unique<torch::optim::Adam>(
        trainable, torch::optim::AdamOptions(c.lr).betas({c.beta1, c.beta2}).weight_decay(c.weight_decay));
  }
  if (c.name == "adamw") {
    return std::make_unique<torch::optim::AdamW>(
        trainable,
        torch::optim::AdamWOptions(c.lr).betas({c.beta1, c.beta2}).weight_decay(c.weight_decay));
  }
  if (c.name == "sgd") {
    return std::make_unique<torch::optim::SGD>(
        trainable, torch::optim::SGDOptions(c.lr)
                       .momentum(c.momentum)
                       .nesterov(c.nesterov && c.momentum > 0)
                       .weight_decay(c.weight_decay));
  }
  FEDSIGN_FAIL("unknown optimizer '{}' (adam, adamw, sgd)", c.name);
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

}  // namespace fedsign::train
