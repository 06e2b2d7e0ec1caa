// The Strategy interface, after Flower's (flwr.server.strategy.Strategy): a strategy decides
// which clients take part in a round and with what instructions, turns their replies (failures
// included) into the next global model, and evaluates centrally. It never touches the network,
// the data or a model: the round loop (run/server.h, driven by run/driver.h for the simulation and
// the network server alike) calls it. One file per algorithm (fedavg.h, fedprox.h, fedavgm.h, fedopt.h,
// scaffold.h); the arithmetic lives in aggregate.h. See docs/fl.md for writing a new one.
//
// Aggregation is streaming: begin_aggregate_fit() returns a FitAggregation that takes results
// one at a time, so a server keeps O(model) memory however many clients report; aggregate_fit()
// is the all-at-once convenience over it. Strategies are not thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fedsign/fl/client_manager.h"
#include "fedsign/fl/messages.h"

namespace fedsign::fl {

struct FitInstruction {
  ClientId client_id = 0;
  FitIns ins;
};

struct EvaluateInstruction {
  ClientId client_id = 0;
  EvaluateIns ins;
};

// A central or aggregated federated evaluation.
struct EvaluateSummary {
  double loss = 0.0;
  Metrics metrics;           // "accuracy", ...
  int64_t num_examples = 0;  // images evaluated (all clients together for federated)
};

// Central evaluation of the global weights (the simulation evaluates on a held-out split).
using CentralEvaluateFn =
    std::function<std::optional<EvaluateSummary>(int64_t round, const Weights& global)>;

struct AggregateFitResult {
  Weights weights;  // the next global model (the current one if nothing could be aggregated)
  Metrics metrics;  // clients' metrics averaged by examples, plus num_results / num_failures
};

// Options every built-in strategy shares (Flower's FedAvg arguments).
struct StrategyOptions {
  double fraction_fit = 1.0;         // share of available clients sampled per round ...
  int64_t clients_per_round = 0;     // ... or exactly this many when > 0
  int64_t min_fit_clients = 1;       // never sample fewer (if available)
  double fraction_evaluate = 1.0;    // federated evaluation: like fraction_fit ...
  int64_t evaluate_clients_per_round = 0;  // ... or a count; 0 and fraction 1: as many as fit
  int64_t min_evaluate_clients = 1;
  bool accept_failures = true;       // false: a round with a failure keeps the old model
  int64_t min_results = 1;           // fewer updates than this: the round keeps the old model
  // Average each trainable value over the clients whose update changed it (aggregate.h:
  // SenderMean), for sparse (top-k) uploads; FedAvg and the server optimizers built on it.
  bool mean_over_senders = false;
  uint64_t seed = 0;                 // client sampling
  Config fit_config;                 // sent with every FitIns (local_epochs, lr, ...)
  Config evaluate_config;
  // Local learning rate across rounds: fit_config "lr" *= lr_decay^(round-1) ("exponential"),
  // or a cosine from "lr" down to min_lr over total_rounds ("cosine"). Annealing across rounds
  // is what a centralized cosine schedule does across epochs: without it the global model keeps
  // the noise of the last rounds' large local steps.
  std::string lr_schedule = "exponential";
  double lr_decay = 1.0;
  double min_lr = 0.0;
  int64_t total_rounds = 0;          // cosine: rounds of the whole run (resumed runs included)
  CentralEvaluateFn evaluate_fn;     // optional
  // The first global model (Flower's initial_parameters), e.g. weights pretrained on public
  // data; nullopt: the server takes its own freshly initialized model.
  std::optional<Weights> initial_parameters;
};

// Consumes a round's fit results one at a time.
class FitAggregation {
 public:
  virtual ~FitAggregation() = default;
  virtual void add(FitResult result) = 0;
  virtual AggregateFitResult finish(const std::vector<Failure>& failures) = 0;
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string name() const = 0;

  // Initial global weights, or nullopt: the server takes them from its own model.
  virtual std::optional<Weights> initialize_parameters() { return std::nullopt; }

  // Rounds are numbered from 1.
  virtual std::vector<FitInstruction> configure_fit(int64_t round, const Weights& global,
                                                    const ClientManager& clients) = 0;
  virtual std::unique_ptr<FitAggregation> begin_aggregate_fit(int64_t round,
                                                              const Weights& global) = 0;
  // All results at once (Flower's aggregate_fit); same as feeding begin_aggregate_fit.
  AggregateFitResult aggregate_fit(int64_t round, const Weights& global,
                                   std::vector<FitResult> results,
                                   const std::vector<Failure>& failures);

  virtual std::vector<EvaluateInstruction> configure_evaluate(int64_t round, const Weights& global,
                                                              const ClientManager& clients) = 0;
  // nullopt when no client reported.
  virtual std::optional<EvaluateSummary> aggregate_evaluate(
      int64_t round, const std::vector<EvaluateResult>& results,
      const std::vector<Failure>& failures) = 0;
  virtual std::optional<EvaluateSummary> evaluate(int64_t round, const Weights& global) = 0;
  // The model the run reports and saves (model.pt, the test split) when the training iterate is
  // `global`: `global` itself, unless a wrapper derives another from it (model_ema.h).
  virtual Weights released_model(const Weights& global) const { return global; }

  // Server-side state that must survive a restart (momentum, moments, control variates), as
  // named Weights. load_state() accepts what state() returned.
  virtual std::map<std::string, Weights> state() const { return {}; }
  virtual void load_state(const std::map<std::string, Weights>& /*state*/) {}
};

// Creates a built-in strategy by name: fedavg | fedprox | fedavgm | fedadam | fedyogi |
// fedadagrad | scaffold. Algorithm parameters come from `params` (proximal_mu, server_lr,
// server_momentum, beta1, beta2, tau); a missing one takes the algorithm's default.
std::unique_ptr<Strategy> make_strategy(const std::string& name, const StrategyOptions& options,
                                        const std::map<std::string, double>& params = {});
std::vector<std::string> strategy_names();

// The local learning rate of `round` (from 1) under options.lr_schedule, starting from `base_lr`.
double round_learning_rate(const StrategyOptions& options, double base_lr, int64_t round);

}  // namespace fedsign::fl
