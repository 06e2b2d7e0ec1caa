// FedAvg (McMahan et al. 2017, "Communication-Efficient Learning of Deep Networks from
// Decentralized Data"): sample clients, train locally from the global model, average the
// returned models weighted by their example counts. The base of the other built-in strategies,
// which override the protected hooks.
#pragma once

#include "fedsign/fl/strategy/aggregate.h"
#include "fedsign/fl/strategy/strategy.h"

namespace fedsign::fl {

class FedAvg : public Strategy {
 public:
  explicit FedAvg(StrategyOptions options);

  std::string name() const override { return "fedavg"; }
  std::optional<Weights> initialize_parameters() override { return options_.initial_parameters; }
  std::vector<FitInstruction> configure_fit(int64_t round, const Weights& global,
                                            const ClientManager& clients) override;
  std::unique_ptr<FitAggregation> begin_aggregate_fit(int64_t round,
                                                      const Weights& global) override;
  std::vector<EvaluateInstruction> configure_evaluate(int64_t round, const Weights& global,
                                                      const ClientManager& clients) override;
  std::optional<EvaluateSummary> aggregate_evaluate(int64_t round,
                                                    const std::vector<EvaluateResult>& results,
                                                    const std::vector<Failure>& failures) override;
  std::optional<EvaluateSummary> evaluate(int64_t round, const Weights& global) override;

  const StrategyOptions& options() const { return options_; }
  // How many clients a round samples out of `available`.
  int64_t num_fit_clients(int64_t available) const;
  int64_t num_evaluate_clients(int64_t available) const;

 protected:
  // The config sent to every client in `round` (options.fit_config, decayed lr, round).
  virtual Config fit_config(int64_t round) const;
  // What goes into FitIns::control (SCAFFOLD).
  virtual std::optional<Weights> fit_control(const Weights& /*global*/) { return std::nullopt; }
  // The next global model from the weighted average of the clients' models.
  virtual Weights server_update(int64_t /*round*/, const Weights& /*global*/,
                                const Weights& average) {
    return average;
  }

  StrategyOptions options_;

 private:
  class Aggregation;
};

}  // namespace fedsign::fl
