#include "fedsign/fl/client/local_client.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>

#include "fedsign/core/check.h"
#include "fedsign/fl/privacy/dp_fedavg.h"
#include "fedsign/fl/rng.h"
#include "fedsign/fl/strategy/aggregate.h"
#include "fedsign/models/registry.h"
#include "fedsign/models/weights.h"
#include "fedsign/train/evaluate.h"
#include "fedsign/train/trainer.h"

namespace fedsign::fl {

BnMode parse_bn_mode(const std::string& name) {
  if (name == "aggregate") return BnMode::kAggregate;
  if (name == "local") return BnMode::kLocal;
  FEDSIGN_FAIL("unknown BatchNorm mode '{}' (aggregate or local)", name);
}

std::string to_string(BnMode mode) { return mode == BnMode::kLocal ? "local" : "aggregate"; }

bool Faults::drops_out(int64_t round, ClientId id) const {
  return dropout_prob > 0 && uniform01(stream_seed(seed, Stream::kDropout, round, id)) < dropout_prob;
}

double Faults::work_fraction(int64_t round, ClientId id) const {
  if (straggler_prob <= 0) return 1.0;
  const uint64_t s = stream_seed(seed, Stream::kStraggler, round, id);
  if (uniform01(s) >= straggler_prob) return 1.0;
  return straggler_min_fraction + (1.0 - straggler_min_fraction) * uniform01(splitmix64(s));
}

Worker::Worker(const train::TrainConfig& config, int64_t input_size, int64_t num_classes)
    : config_(config), mode_(train::resolve_compute_mode(config.precision, config.memory_format)) {
  models::ModelOptions options;
  options.num_classes = num_classes;
  options.input_size = input_size;
  options.dropout = config.dropout;
  model_ = models::create_model(config.model, options);
  train::apply_memory_format(*model_, mode_.channels_last);
}

const std::vector<bool>& Worker::batchnorm_mask(const Weights& layout) {
  if (bn_mask_.size() != layout.size()) bn_mask_ = fl::batchnorm_mask(*model_, layout);
  return bn_mask_;
}

LocalClient::LocalClient(ClientId id, const data::ImageSet& set, const ClientData& data,
                                 ClientStateStore& states, Worker& worker, BnMode bn_mode,
                                 const Faults& faults)
    : id_(id), set_(set), data_(data), states_(states), worker_(worker), bn_mode_(bn_mode),
      faults_(faults) {}

LocalClient::LocalClient(ClientId id, const data::ImageSet& set, const ClientData& data,
                                 ClientState& state, Worker& worker, BnMode bn_mode,
                                 const Faults& faults)
    : id_(id), set_(set), data_(data),
      own_states_(std::make_unique<SingleClientStateStore>(state)), states_(*own_states_),
      worker_(worker), bn_mode_(bn_mode), faults_(faults) {}

int64_t LocalClient::steps_for_epochs(int64_t n, int64_t batch, int64_t epochs) {
  if (n <= 0) return 0;
  int64_t per_epoch = n / batch;
  const int64_t rest = n % batch;
  if (rest >= 2 || (rest == 1 && n == 1)) ++per_epoch;
  return std::max<int64_t>(1, per_epoch) * epochs;
}

void LocalClient::load_global(const Weights& global, const std::optional<ClientState>& state) {
  if (bn_mode_ == BnMode::kLocal && state && state->local_bn) {
    const Weights& local_bn = *state->local_bn;
    const std::vector<bool>& mask = worker_.batchnorm_mask(global);
    Weights merged = global;
    std::size_t k = 0;
    for (std::size_t i = 0; i < merged.size(); ++i) {
      if (!mask[i]) continue;
      FEDSIGN_CHECK(k < local_bn.size() && local_bn.names[k] == merged.names[i],
                    "client {}: local BatchNorm state does not match the model", id_);
      merged.tensors[i] = local_bn.tensors[k++];
    }
    set_weights(worker_.model(), merged);
  } else {
    set_weights(worker_.model(), global);
  }
}

FitResult LocalClient::fit(const FitIns& ins) {
  const int64_t round = get_int(ins.config, keys::kRound, 0);
  if (faults_.drops_out(round, id_)) {
    throw ClientDropout(fmt::format("client {} dropped out in round {} (simulated)", id_, round));
  }
  const bool scaffold = ins.control.has_value();
  FitResult result;
  result.client_id = id_;
  result.num_examples = static_cast<int64_t>(data_.train.size());
  if (data_.train.empty()) {  // nothing to learn from: report the model unchanged
    result.weights = ins.weights;
    if (scaffold) result.control_delta = zeros_like(*ins.control);
    privatize(ins, round, result);  // but still add this client's share of distributed noise
    return result;
  }
  std::optional<ClientState> state;
  if (scaffold || bn_mode_ == BnMode::kLocal) state = states_.load(id_);
  load_global(ins.weights, state);

  train::TrainConfig config = worker_.config();
  const double lr = get_double(ins.config, keys::kLr, config.optimizer.lr);
  config.optimizer.lr = lr;
  const int64_t local_steps = get_int(ins.config, keys::kLocalSteps, 0);
  const int64_t epochs = get_int(ins.config, keys::kLocalEpochs, 1);
  int64_t steps = local_steps;
  if (steps <= 0) {
    steps = config.sampler == "shuffle"
                ? steps_for_epochs(result.num_examples, config.batch_size, epochs)
                : train::steps_per_epoch(config, data_.train.size()) * epochs;
  }
  const double fraction =
      faults_.work_fraction(round, id_) * get_double(ins.config, keys::kWorkFraction, 1.0);
  if (fraction < 1.0) steps = std::max<int64_t>(1, std::llround(static_cast<double>(steps) * fraction));
  // Fine-tuning part of the model: freeze the rest before the optimizer is built (it takes only
  // trainable parameters). The worker's model is shared, so every fit sets it afresh.
  const std::vector<std::string> groups =
      models::parse_groups(get_string(ins.config, keys::kTrainableGroups, "all"));
  models::set_trainable_groups(worker_.model(), groups);
  const bool partial = groups != std::vector<std::string>{"all"};
  train::ScheduleConfig schedule;
  schedule.kind = train::ScheduleKind::kConstant;
  schedule.base_lr = lr;
  schedule.total_steps = steps;
  train::Trainer trainer(worker_.model_ptr(), config, schedule);

  // Gradient hooks: FedProx's proximal term and SCAFFOLD's correction, per parameter.
  std::vector<torch::Tensor> parameters = worker_.model().parameters();
  std::vector<torch::Tensor> anchor(parameters.size()), correction(parameters.size());
  const double mu = get_double(ins.config, keys::kProximalMu, 0.0);
  if (mu > 0) {
    for (std::size_t i = 0; i < parameters.size(); ++i) anchor[i] = ins.weights.tensors[i];
  }
  Weights c_i;
  if (scaffold) {
    c_i = state && state->control ? *state->control : zeros_like(*ins.control);
    const Weights corr = scaffold_correction(*ins.control, c_i);
    const auto named = worker_.model().named_parameters();
    std::size_t k = 0;
    for (std::size_t i = 0; i < parameters.size() && k < corr.size(); ++i) {
      if (named[i].key() == corr.names[k]) correction[i] = corr.tensors[k++];
    }
    FEDSIGN_CHECK(k == corr.size(), "client {}: control variate '{}' is not a model parameter", id_,
                  corr.names[std::min(k, corr.size() - 1)]);
  }
  train::TrainHooks hooks;
  if (partial) {
    hooks.after_train_mode = [&groups](models::Classifier& m) { models::hold_frozen_statistics(m, groups); };
  }
  if (mu > 0 || scaffold) {
    hooks.after_backward = [&](models::Classifier&) {
      torch::NoGradGuard no_grad;
      for (std::size_t i = 0; i < parameters.size(); ++i) {
        torch::Tensor g = parameters[i].mutable_grad();
        if (!g.defined()) continue;
        if (anchor[i].defined()) g.add_(parameters[i].detach() - anchor[i], mu);
        if (correction[i].defined()) g.add_(correction[i]);
      }
    };
  }

  const auto start = std::chrono::steady_clock::now();
  const train::TrainStats stats = trainer.train_steps(
      set_, data_.train, steps, stream_seed(config.seed, Stream::kLocalTraining, round, id_), hooks);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  result.weights = get_weights(worker_.model());
  result.metrics = {{"train_loss", stats.mean_loss},
                    {"train_accuracy", stats.accuracy},
                    {"steps", static_cast<double>(stats.steps)},
                    {"examples_processed", static_cast<double>(stats.examples)},
                    {"work_fraction", fraction},
                    {"lr", lr},
                    {"train_seconds", seconds}};
  if (scaffold) {
    Weights c_new = scaffold_client_control(c_i, *ins.control, ins.weights, result.weights,
                                            static_cast<double>(stats.steps) * lr);
    result.control_delta = sub(c_new, c_i);
    if (!state) state.emplace();
    state->control = std::move(c_new);
  }
  if (bn_mode_ == BnMode::kLocal) {
    if (!state) state.emplace();
    state->local_bn = select(result.weights, worker_.batchnorm_mask(result.weights));
  }
  if (state) states_.save(id_, *state);
  privatize(ins, round, result);  // after the local state: FedBN keeps its own, un-noised tensors
  return result;
}

void LocalClient::privatize(const FitIns& ins, int64_t round, FitResult& result) const {
  if (ins.config.count(privacy::dp_keys::kMode) == 0) return;
  const uint64_t seed = dp_noise_seed_.value_or(
      stream_seed(worker_.config().seed, Stream::kDpNoise, round, id_));
  result.weights =
      privacy::client_privatize(ins.weights, result.weights, ins.config, seed, &result.metrics);
}

EvaluateResult LocalClient::evaluate(const EvaluateIns& ins) {
  EvaluateResult result;
  result.client_id = id_;
  if (data_.test.empty()) return result;
  load_global(ins.weights, bn_mode_ == BnMode::kLocal ? states_.load(id_) : std::nullopt);
  const train::Predictions p = train::predict_subset(worker_.model(), set_, data_.test,
                                                     worker_.mode(), worker_.config().eval_batch_size);
  result.num_examples = static_cast<int64_t>(data_.test.size());
  result.loss = p.mean_loss;
  result.metrics["accuracy"] = p.accuracy();
  return result;
}

}  // namespace fedsign::fl
