// Training options (model, optimizer, schedule, augmentation, precision) shared by `train` and
// the federated commands, declared once so flags and config keys match everywhere.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "fedsign/train/train_config.h"

namespace fedsign::cli {

struct TrainOptions {
  train::TrainConfig config;
  std::string schedule = "cosine";
  bool no_augment = false;
};

void add_train_options(CLI::App& command, TrainOptions& options);

// Resolves string options (schedule name, augmentation switch) into options.config.
train::TrainConfig resolve(const TrainOptions& options);

}  // namespace fedsign::cli
