// SCAFFOLD (Karimireddy et al. 2020, "SCAFFOLD: Stochastic Controlled Averaging for Federated
// Learning"), option II control variates. The server keeps c and sends it with every FitIns;
// each client keeps its own c_i (persistent client state), trains with gradients corrected by
// c - c_i, then sets c_i+ = c_i - c + (x - y_i) / (K * lr) and returns delta c_i = c_i+ - c_i.
// The server updates x += eta_g * mean_i (y_i - x) and c += (1/N) sum_i delta c_i over the
// |S| participants of N clients (aggregate.h). Means are unweighted, as in the paper, whose
// objective is the uniform average of the clients' objectives. Control variates cover the
// trainable tensors (trainable_mask); running statistics are averaged. The correction assumes
// plain SGD locally (use --optimizer sgd --momentum 0); with momentum or Adam it still
// reduces drift but (x - y_i)/(K lr) is no longer the mean gradient.
#pragma once

#include "fedsign/fl/strategy/fedavg.h"

namespace fedsign::fl {

class Scaffold : public FedAvg {
 public:
  explicit Scaffold(StrategyOptions options, double global_lr = 1.0);
  std::string name() const override { return "scaffold"; }

  std::vector<FitInstruction> configure_fit(int64_t round, const Weights& global,
                                            const ClientManager& clients) override;
  std::unique_ptr<FitAggregation> begin_aggregate_fit(int64_t round,
                                                      const Weights& global) override;
  std::map<std::string, Weights> state() const override;
  void load_state(const std::map<std::string, Weights>& state) override;

  const Weights& control() const { return control_; }

 protected:
  Config fit_config(int64_t round) const override;
  std::optional<Weights> fit_control(const Weights& global) override;

 private:
  class Aggregation;
  double global_lr_;
  Weights control_;          // c, trainable tensors only; zeros until the first round
  int64_t num_clients_ = 0;  // N, from the last configure_fit
};

}  // namespace fedsign::fl
