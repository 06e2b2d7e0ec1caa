#include "fedsign/fl/strategy/scaffold.h"

#include "fedsign/core/check.h"

namespace fedsign::fl {

class Scaffold::Aggregation : public FitAggregation {
 public:
  Aggregation(Scaffold& strategy, Weights global)
      : strategy_(strategy), global_(std::move(global)) {}

  void add(FitResult result) override {
    FEDSIGN_CHECK(result.control_delta.has_value(),
                  "SCAFFOLD: client {} returned no control variate update", result.client_id);
    models_.add(result.weights, 1.0);
    control_deltas_.add(*result.control_delta, 1.0);
    metrics_.add(result.metrics, static_cast<double>(std::max<int64_t>(1, result.num_examples)));
  }

  AggregateFitResult finish(const std::vector<Failure>& failures) override {
    AggregateFitResult out;
    out.metrics = metrics_.mean();
    out.metrics["num_results"] = static_cast<double>(models_.count());
    out.metrics["num_failures"] = static_cast<double>(failures.size());
    if (models_.empty() || models_.count() < strategy_.options_.min_results ||
        (!failures.empty() && !strategy_.options_.accept_failures)) {
      out.weights = global_;
      return out;
    }
    out.weights = scaffold_server_weights(global_, models_.mean(), strategy_.global_lr_);
    strategy_.control_ = scaffold_server_control(strategy_.control_, control_deltas_.sum(),
                                                 std::max<int64_t>(1, strategy_.num_clients_));
    return out;
  }

 private:
  Scaffold& strategy_;
  Weights global_;
  WeightedSum models_, control_deltas_;
  MetricsMean metrics_;
};

Scaffold::Scaffold(StrategyOptions options, double global_lr)
    : FedAvg(std::move(options)), global_lr_(global_lr) {
  FEDSIGN_CHECK(global_lr_ > 0, "SCAFFOLD: server_lr {} <= 0", global_lr_);
  FEDSIGN_CHECK(!this->options().mean_over_senders,
                "SCAFFOLD averages every update over all its clients: --mean-over-senders is for "
                "FedAvg, FedProx, FedAvgM and FedOpt");
}

std::vector<FitInstruction> Scaffold::configure_fit(int64_t round, const Weights& global,
                                                    const ClientManager& clients) {
  num_clients_ = clients.num_available();
  return FedAvg::configure_fit(round, global, clients);
}

Config Scaffold::fit_config(int64_t round) const {
  Config config = FedAvg::fit_config(round);
  config[keys::kScaffold] = true;
  return config;
}

std::optional<Weights> Scaffold::fit_control(const Weights& global) {
  if (control_.empty()) control_ = select(zeros_like(global), trainable_mask(global));
  return control_;
}

std::unique_ptr<FitAggregation> Scaffold::begin_aggregate_fit(int64_t, const Weights& global) {
  if (control_.empty()) fit_control(global);
  return std::make_unique<Aggregation>(*this, global);
}

std::map<std::string, Weights> Scaffold::state() const {
  if (control_.empty()) return {};
  return {{"control", control_}};
}

void Scaffold::load_state(const std::map<std::string, Weights>& state) {
  auto it = state.find("control");
  control_ = it == state.end() ? Weights{} : it->second;
}

}  // namespace fedsign::fl
