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

struct DataOptions;

// Resolves string options (schedule name, augmentation switch) into options.config, and takes
// the thread count from the data options' --threads (one flag for decoding and training).
train::TrainConfig resolve(const TrainOptions& options, const DataOptions& data);

}  // namespace fedsign::cli
