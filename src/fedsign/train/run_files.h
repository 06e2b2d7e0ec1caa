// Training checkpoints: model + optimizer state + progress, written atomically so a crash
// mid-write leaves the previous checkpoint intact. Used by `fedsign train --resume`.
#pragma once

#include <filesystem>
#include <string>

namespace fedsign::train {

class Trainer;
class WeightEma;

struct CheckpointState {
  int64_t epoch = 0;  // last completed epoch
  double best_val_accuracy = 0;
  int64_t best_epoch = 0;
  std::string history_json = "[]";
};

// `ema`: the run's weight average (--weight-ema), saved with it when given.
void save_checkpoint(const std::filesystem::path& file, const Trainer& trainer,
                     const CheckpointState& state, const WeightEma* ema = nullptr);

// Throws fedsign::Error naming the file if it is missing, truncated or not a checkpoint, or if
// it holds a weight average and `ema` is null (or the other way round).
CheckpointState load_checkpoint(const std::filesystem::path& file, Trainer& trainer,
                                WeightEma* ema = nullptr);

}  // namespace fedsign::train
