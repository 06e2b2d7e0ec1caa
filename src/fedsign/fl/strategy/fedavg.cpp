#include "fedsign/fl/strategy/fedavg.h"

#include <algorithm>
#include <cmath>

#include "fedsign/core/check.h"
#include "fedsign/fl/rng.h"

namespace fedsign::fl {

class FedAvg::Aggregation : public FitAggregation {
 public:
  Aggregation(FedAvg& strategy, int64_t round, Weights global)
      : strategy_(strategy), round_(round), global_(std::move(global)) {
    if (strategy_.options_.mean_over_senders) senders_.emplace(global_);
  }

  void add(FitResult result) override {
    const auto weight = static_cast<double>(result.num_examples);
    if (weight <= 0) return;  // a client without training data contributes nothing
    sum_.add(result.weights, weight);
    if (senders_) senders_->add(result.weights, weight);
    metrics_.add(result.metrics, weight);
  }

  AggregateFitResult finish(const std::vector<Failure>& failures) override {
    AggregateFitResult out;
    out.metrics = metrics_.mean();
    out.metrics["num_results"] = static_cast<double>(sum_.count());
    out.metrics["num_failures"] = static_cast<double>(failures.size());
    if (sum_.empty() || sum_.count() < strategy_.options_.min_results ||
        (!failures.empty() && !strategy_.options_.accept_failures)) {
      out.weights = global_;  // nothing (acceptable) to aggregate: keep the model
      return out;
    }
    Weights mean = sum_.mean();
    if (senders_) mean = senders_->mean(std::move(mean));
    out.weights = strategy_.server_update(round_, global_, mean);
    return out;
  }

 private:
  FedAvg& strategy_;
  int64_t round_;
  Weights global_;
  WeightedSum sum_;
  std::optional<SenderMean> senders_;  // options_.mean_over_senders
  MetricsMean metrics_;
};

FedAvg::FedAvg(StrategyOptions options) : options_(std::move(options)) {
  FEDSIGN_CHECK(options_.fraction_fit > 0 && options_.fraction_fit <= 1,
                "fraction_fit {} not in (0, 1]", options_.fraction_fit);
  FEDSIGN_CHECK(options_.fraction_evaluate >= 0 && options_.fraction_evaluate <= 1,
                "fraction_evaluate {} not in [0, 1]", options_.fraction_evaluate);
}

int64_t FedAvg::num_fit_clients(int64_t available) const {
  int64_t n = options_.clients_per_round > 0
                  ? options_.clients_per_round
                  : static_cast<int64_t>(std::ceil(options_.fraction_fit * available - 1e-9));
  n = std::max(n, options_.min_fit_clients);
  return std::clamp<int64_t>(n, std::min<int64_t>(1, available), available);
}

int64_t FedAvg::num_evaluate_clients(int64_t available) const {
  int64_t n;
  if (options_.evaluate_clients_per_round > 0) {
    n = options_.evaluate_clients_per_round;
  } else if (options_.fraction_evaluate == 1.0) {
    n = num_fit_clients(available);
  } else {
    n = static_cast<int64_t>(std::ceil(options_.fraction_evaluate * available - 1e-9));
    if (n == 0) return 0;  // federated evaluation off
  }
  return std::clamp<int64_t>(std::max(n, options_.min_evaluate_clients), 0, available);
}

Config FedAvg::fit_config(int64_t round) const {
  Config config = options_.fit_config;
  if (auto it = config.find(keys::kLr); it != config.end()) {
    it->second = round_learning_rate(options_, get_double(config, keys::kLr, 0), round);
  }
  config[keys::kRound] = round;
  return config;
}

std::vector<FitInstruction> FedAvg::configure_fit(int64_t round, const Weights& global,
                                                  const ClientManager& clients) {
  const int64_t n = num_fit_clients(clients.num_available());
  FitIns ins{global, fit_config(round), fit_control(global)};
  std::vector<FitInstruction> out;
  for (ClientId id : clients.sample(n, stream_seed(options_.seed, Stream::kFitSample, round))) {
    out.push_back({id, ins});  // tensors are shared, not copied
  }
  return out;
}

std::unique_ptr<FitAggregation> FedAvg::begin_aggregate_fit(int64_t round, const Weights& global) {
  return std::make_unique<Aggregation>(*this, round, global);
}

std::vector<EvaluateInstruction> FedAvg::configure_evaluate(int64_t round, const Weights& global,
                                                            const ClientManager& clients) {
  const int64_t n = num_evaluate_clients(clients.num_available());
  Config config = options_.evaluate_config;
  config[keys::kRound] = round;
  EvaluateIns ins{global, config};
  std::vector<EvaluateInstruction> out;
  for (ClientId id :
       clients.sample(n, stream_seed(options_.seed, Stream::kEvaluateSample, round))) {
    out.push_back({id, ins});
  }
  return out;
}

std::optional<EvaluateSummary> FedAvg::aggregate_evaluate(
    int64_t /*round*/, const std::vector<EvaluateResult>& results,
    const std::vector<Failure>& failures) {
  if (!failures.empty() && !options_.accept_failures) return std::nullopt;
  EvaluateSummary out;
  double loss_sum = 0;
  MetricsMean metrics;
  for (const auto& r : results) {
    if (r.num_examples <= 0) continue;
    loss_sum += r.loss * static_cast<double>(r.num_examples);
    out.num_examples += r.num_examples;
    metrics.add(r.metrics, static_cast<double>(r.num_examples));
  }
  if (out.num_examples == 0) return std::nullopt;
  out.loss = loss_sum / static_cast<double>(out.num_examples);
  out.metrics = metrics.mean();
  return out;
}

std::optional<EvaluateSummary> FedAvg::evaluate(int64_t round, const Weights& global) {
  if (!options_.evaluate_fn) return std::nullopt;
  return options_.evaluate_fn(round, global);
}

}  // namespace fedsign::fl
