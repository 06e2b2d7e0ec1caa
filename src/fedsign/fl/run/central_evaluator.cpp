#include "fedsign/fl/run/central_evaluator.h"

#include <torch/torch.h>

#include "fedsign/core/check.h"
#include "fedsign/fl/rng.h"
#include "fedsign/fl/run/root_update.h"
#include "fedsign/models/int8_compact.h"
#include "fedsign/models/registry.h"
#include "fedsign/train/evaluate.h"
#include "fedsign/train/int8_model.h"
#include "fedsign/train/precision.h"

namespace fedsign::fl {

Int8Calibration int8_eval_calibration(const data::ImageSet& set, const data::Indices& train,
                                      const train::TrainConfig& config) {
  FEDSIGN_CHECK(config.model == "compact",
                "--eval-precision int8: only the compact model has an int8 path (this run's is {})",
                config.model);
  FEDSIGN_CHECK(models::int8_inference_available(),
                "--eval-precision int8: this LibTorch has no quantized engine for x86");
  FEDSIGN_CHECK(!train.empty(), "--eval-precision int8: no training images to calibrate on");
  const uint64_t salt = 0x696e7438;  // "int8": apart from the FLTrust root set's draw
  return {&set, sample_root_set(train, kInt8EvalCalibrationImages, derive_seed(config.seed, {salt}))};
}

CentralEvaluateFn make_central_evaluator(const data::ImageSet& set, data::Indices indices,
                                         const train::TrainConfig& config, int64_t num_classes,
                                         std::optional<Int8Calibration> int8) {
  struct State {
    std::shared_ptr<models::Classifier> model;
    train::ComputeMode mode;
    std::vector<torch::Tensor> calibration_batches;  // int8: gathered once, 3 MB
  };
  auto state = std::make_shared<State>();
  state->mode = train::resolve_compute_mode(config.precision, config.memory_format);
  return [&set, indices = std::move(indices), config, num_classes, state, int8 = std::move(int8)](
             int64_t, const Weights& global) -> std::optional<EvaluateSummary> {
    if (indices.empty()) return std::nullopt;
    if (!state->model) {
      models::ModelOptions options;
      options.num_classes = num_classes;
      options.input_size = set.height;
      options.dropout = config.dropout;
      state->model = models::create_model(config.model, options);
      train::apply_memory_format(*state->model, state->mode.channels_last);
    }
    set_weights(*state->model, global);
    train::Predictions p;
    if (int8) {
      if (state->calibration_batches.empty()) {
        state->calibration_batches = train::calibration_batches(
            *int8->set, int8->indices, kInt8EvalCalibrationImages, 128, /*channels_last=*/true);
      }
      // bf16 where the CPU computes it natively (its GEMM rate 3.6-3.9x fp32's on the CPUs measured);
      // emulated, it would be slower than fp32.
      const models::Int8Ranges ranges = models::calibrate_int8(
          *state->model, state->calibration_batches, train::cpu_has_native_bf16());
      const models::Int8Compact quantized(*state->model, ranges);
      p = train::predict_subset(quantized, set, indices, config.eval_batch_size);
    } else {
      p = train::predict_subset(*state->model, set, indices, state->mode, config.eval_batch_size);
    }
    EvaluateSummary summary;
    summary.loss = p.mean_loss;
    summary.metrics["accuracy"] = p.accuracy();
    summary.num_examples = static_cast<int64_t>(indices.size());
    return summary;
  };
}

}  // namespace fedsign::fl
