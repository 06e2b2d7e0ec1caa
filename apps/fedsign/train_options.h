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

// All of the groups below: the options of a centralized run (`train`, `rare`, `transfer`).
void add_train_options(CLI::App& command, TrainOptions& options);

// The groups, for commands that need only some: a federated client trains locally with the
// optimizer, batch and augmentation settings but takes its epochs/steps and learning rate from
// the round's instructions, and its model from the server.
void add_model_options(CLI::App& command, TrainOptions& options);           // --model, --dropout
void add_local_training_options(CLI::App& command, TrainOptions& options);  // batch, optimizer, augmentation, precision, sampler
void add_schedule_options(CLI::App& command, TrainOptions& options);  // --epochs, --lr, --schedule ...
void add_seed_option(CLI::App& command, uint64_t& seed, const std::string& help);

struct DataOptions;

// Resolves string options (schedule name, augmentation switch) into options.config, and takes
// the thread count from the data options' --threads (one flag for decoding and training).
train::TrainConfig resolve(const TrainOptions& options, const DataOptions& data);

}  // namespace fedsign::cli
