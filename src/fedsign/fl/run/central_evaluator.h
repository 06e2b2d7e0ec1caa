// Central evaluation of global weights on a held-out, track-disjoint split, for
// StrategyOptions::evaluate_fn. Used alike by the simulation and by the network server (given
// --data), so both report the same "central accuracy".
#pragma once

#include <optional>

#include "fedsign/data/image_set.h"
#include "fedsign/fl/strategy/strategy.h"
#include "fedsign/train/train_config.h"

namespace fedsign::fl {

// --eval-precision int8: each evaluation folds and quantizes the global weights (compact model
// only) with activation ranges measured, that same evaluation, on these training images. A
// fixed sample, so two evaluations of the same weights agree; never validation images.
struct Int8Calibration {
  const data::ImageSet* set = nullptr;
  data::Indices indices;
};

// How many training images int8 evaluation calibrates on: 256, gathered once and run in bf16
// where the CPU has it natively, take 0.04-0.06 s an evaluation on both machine kinds measured
// (gathered each time and run in fp32: 0.11-0.16 s), and int8 then read within 0.28 points of
// bf16 at every evaluation measured (README, issue 19).
inline constexpr int64_t kInt8EvalCalibrationImages = 256;

// The calibration sample of `train` (seeded, apart from the run's other draws), after checking
// that the model has an int8 path. Throws fedsign::Error naming --eval-precision otherwise.
Int8Calibration int8_eval_calibration(const data::ImageSet& set, const data::Indices& train,
                                      const train::TrainConfig& config);

// Evaluates with a model instance of its own, created on first use (after the run seeded torch),
// in the run's float precision, or in int8 when `int8` is given. `set` (and int8's set) must
// outlive the returned function; nullopt for an empty index set.
CentralEvaluateFn make_central_evaluator(const data::ImageSet& set, data::Indices indices,
                                         const train::TrainConfig& config, int64_t num_classes = 43,
                                         std::optional<Int8Calibration> int8 = std::nullopt);

}  // namespace fedsign::fl
