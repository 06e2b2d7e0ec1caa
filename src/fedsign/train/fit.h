// Centralized training run: epochs over the training split, validation after each epoch,
// best/last checkpoints, metrics.csv, loss/accuracy plots and a summary in a run directory.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "fedsign/data/split.h"
#include "fedsign/train/train_config.h"

namespace fedsign::train {

struct RunOptions {
  std::filesystem::path run_dir;
  bool resume = false;                     // continue from run_dir/last.ckpt
  std::filesystem::path init_weights;      // optional weights to start from (fine-tuning)
  // Layer groups to train: {"all"}, {"head"}, explicit names, or {"last:N"} (the last N groups).
  std::vector<std::string> trainable_groups = {"all"};
  // > 0: keep an exponential moving average of the weights with this decay (see weight_ema.h),
  // validate it after each epoch beside the trained weights, and select model.pt among the
  // averages; the trained weights' own best epoch goes to model_raw.pt for comparison.
  double weight_ema = 0.0;
};

struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  double lr = 0, train_loss = 0, train_accuracy = 0, val_loss = 0, val_accuracy = 0;
  double seconds = 0, images_per_second = 0;
  double ema_val_loss = 0, ema_val_accuracy = 0;  // the weight average's (with weight_ema)
};

struct FitResult {
  std::vector<EpochRecord> history;
  // The selected model.pt: the trained weights' best epoch, or the weight average's with
  // weight_ema (then raw_* are the trained weights' best, saved as raw_model).
  double best_val_accuracy = 0;
  int64_t best_epoch = 0;
  double raw_best_val_accuracy = 0;
  int64_t raw_best_epoch = 0;
  double train_seconds = 0;  // wall time of the epochs run in this process
  std::filesystem::path best_model, last_checkpoint, raw_model;
};

// Called after each epoch (for progress printing).
using EpochCallback = std::function<void(const EpochRecord&)>;

FitResult fit(const data::ImageSet& set, const data::TrackSplit& split, const TrainConfig& config,
              const RunOptions& options, const EpochCallback& on_epoch = {});

}  // namespace fedsign::train
