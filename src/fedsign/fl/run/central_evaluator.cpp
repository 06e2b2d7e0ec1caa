#include "fedsign/fl/run/central_evaluator.h"

#include <torch/torch.h>

#include "fedsign/models/registry.h"
#include "fedsign/train/evaluate.h"
#include "fedsign/train/precision.h"

namespace fedsign::fl {

CentralEvaluateFn make_central_evaluator(const data::ImageSet& set, data::Indices indices,
                                         const train::TrainConfig& config, int64_t num_classes) {
  struct State {
    std::shared_ptr<models::Classifier> model;
    train::ComputeMode mode;
  };
  auto state = std::make_shared<State>();
  state->mode = train::resolve_compute_mode(config.precision, config.memory_format);
  return [&set, indices = std::move(indices), config, num_classes, state](
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
    const train::Predictions p =
        train::predict_subset(*state->model, set, indices, state->mode, config.eval_batch_size);
    EvaluateSummary summary;
    summary.loss = p.mean_loss;
    summary.metrics["accuracy"] = p.accuracy();
    summary.num_examples = static_cast<int64_t>(indices.size());
    return summary;
  };
}

}  // namespace fedsign::fl
