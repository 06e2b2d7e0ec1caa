// The federation's settings with one meaning each, whichever front door runs it: `fl simulate`
// (all clients in this process) and `fl server` (remote clients) both build their strategy and
// run configuration from a FederationConfig, so the same option behaves the same in both.
// Plain data plus pure builders; the CLI fills it from flags and config files. The robust
// aggregation settings (fl/robust/wrap_robust.h) wrap the strategy the same way in both.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fedsign/fl/privacy/dp_fedavg.h"
#include "fedsign/fl/robust/wrap_robust.h"
#include "fedsign/fl/run/driver.h"
#include "fedsign/fl/strategy/strategy.h"

namespace fedsign::models {
class Classifier;
}

namespace fedsign::fl {

struct FederationConfig {
  // Strategy and its parameters; a parameter only its algorithm reads (proximal_mu: FedProx;
  // server_momentum: FedAvgM; beta1/beta2/tau: FedAdam/FedYogi/FedAdagrad).
  std::string strategy = "fedavg";
  double proximal_mu = 0.01;
  double server_lr = -1;  // < 0: the algorithm's default
  double server_momentum = 0.9;
  double beta1 = 0.9, beta2 = 0.99, tau = 1e-3;
  // Rounds and client sampling (Flower's names).
  int64_t rounds = 20;
  int64_t clients_per_round = 0;  // > 0: exactly this many per round ...
  double fraction_fit = 1.0;      // ... else this share of the available clients
  int64_t min_fit_clients = 1;    // never sample fewer (if available)
  // A round starts only when this many clients are available (the simulation's clients always
  // are: there it must not exceed the number of clients).
  int64_t min_available_clients = 1;
  int64_t min_results = 1;        // fewer updates: the round keeps the old model
  int64_t evaluate_clients = 0;   // federated evaluation: a count, or ...
  double fraction_evaluate = 1.0; // ... a share (1: as many as train; 0: off)
  // Local-training instructions sent with every fit.
  int64_t local_epochs = 1;
  int64_t local_steps = 0;  // > 0: instead of epochs
  double lr = 2e-3;         // local learning rate of round 1
  std::string round_schedule = "exponential";  // exponential (lr_decay) | cosine (lr -> min_lr)
  double lr_decay = 1.0;
  double min_lr = 0.0;
  // Evaluation after every k-th round and after the last (0: only after the last).
  int64_t eval_every = 1;
  // Central evaluation in the run's float precision ("float") or in int8 ("int8": the compact
  // model quantized at each evaluation, central_evaluator.h); the final test split is float.
  std::string eval_precision = "float";
  // > 0: the run evaluates and saves a moving average of its global models with this decay
  // per round (strategy/model_ema.h); clients still train from the latest one. 0: off.
  double model_ema = 0.0;
  // Average each value over the clients that sent it (sparse top-k uploads; StrategyOptions).
  bool mean_over_senders = false;
  uint64_t seed = 42;  // initial global model and client sampling
  // Clients in the federation, when known (the simulation's --clients); 0: unknown (the network
  // server, where clients come and go).
  int64_t num_clients = 0;
  // Client-level differential privacy (docs/privacy.md): "off", "central" or "distributed".
  // When on, the strategy is wrapped in privacy::DpFedAvg with `dp`, whose mode and seed come
  // from dp_mode and seed. dp.noise_multiplier < 0 means "solve it from dp.target_epsilon".
  std::string dp_mode = "off";
  privacy::DpOptions dp;
  // Robust aggregation around the strategy (rule, trimming, Krum's f, norm clipping).
  RobustOptions robust;
  // Federated fine-tuning: the first global model from a weights file (e.g. a model trained on
  // public data, such as fedsign's pictogram renders), and the layer groups the clients train
  // ({"all"}, or e.g. {"head"} or {"stage4", "head"}: `fedsign models --groups`); the others
  // stay as they started (strategy/frozen_layers.h).
  std::string init_weights;
  std::vector<std::string> trainable_groups = {"all"};
  // Filled by resolve_model_settings() from a model of the run's architecture.
  std::optional<Weights> initial_parameters;  // init_weights' tensors
  std::vector<std::string> frozen_tensors;     // tensors outside trainable_groups
};

// Loads config.init_weights into `model` (a fresh model of the run's architecture; throws
// naming the file if it does not fit) and fills config.initial_parameters with the result;
// checks config.trainable_groups against the model's layer groups and lists the tensors
// outside them in config.frozen_tensors. Both front doors call it before
// make_federation_strategy.
void resolve_model_settings(FederationConfig& config, models::Classifier& model);

// The DP options `config` asks for (dp_mode must not be "off"), checked: a fixed number of
// clients per round, no SCAFFOLD, no --min-results, a noise multiplier given or reachable. A noise multiplier
// < 0 is solved with noise_multiplier_for(target_epsilon, q, rounds, delta), q the planned
// sampling rate (dp_sampling_rate). Pure: logs nothing.
privacy::DpOptions federation_dp_options(const FederationConfig& config);

// The sampling rate DP plans with: m / N, m the clients per round (at least min_fit_clients),
// N num_clients, or min_available_clients when that is unknown (a network round starts with at
// least that many, so its real rate is never above the planned one); at most 1.
double dp_sampling_rate(const FederationConfig& config);

// The strategy `config` describes, with central evaluation `evaluate` (may be empty), wrapped
// for config.robust; `root` is the server's root set (run/root_update.h make_server_root:
// required for robust rule fltrust and the label test, else unused). With DP on, wrapped by
// privacy::wrap_dp (name "dp-<inner>"), the noise multiplier and the epsilon it plans for logged;
// DP and a robust rule together are refused (DP averages clipped updates itself: the rule would
// see one result).
// With frozen tensors (resolve_model_settings) the strategy inside DP is wrapped in
// FrozenLayers; config.initial_parameters become the strategy's initial parameters.
std::unique_ptr<Strategy> make_federation_strategy(const FederationConfig& config,
                                                   CentralEvaluateFn evaluate = {},
                                                   robust::ServerRoot root = {});

// Clients sampled per round when `available` clients are (the strategy's own count).
int64_t federation_clients_per_round(const FederationConfig& config, int64_t available);

// The StrategyOptions part of it (sampling, fit config, round schedule).
StrategyOptions federation_strategy_options(const FederationConfig& config);

}  // namespace fedsign::fl
