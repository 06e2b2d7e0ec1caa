// Optimizer construction from OptimizerConfig, and per-step learning-rate updates.
#pragma once

#include <torch/optim/optimizer.h>

#include <memory>
#include <vector>

#include "fedsign/train/train_config.h"

namespace fedsign::train {

// Only parameters with requires_grad are optimized (frozen layer groups are skipped).
std::unique_ptr<torch::optim::Optimizer> make_optimizer(const std::vector<torch::Tensor>& parameters,
                                                        const OptimizerConfig& config);

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

}  // namespace fedsign::train
