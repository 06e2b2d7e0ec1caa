// FedOpt (Reddi et al. 2021, "Adaptive Federated Optimization"): the server treats
// delta = avg - x as a pseudo-gradient and applies Adagrad, Adam or Yogi to it with learning
// rate eta and adaptivity tau (fedopt_step in aggregate.h). Clients train as in FedAvg with
// their own (local) learning rate eta_l = fit config "lr". The moments m, v are server state
// (checkpointed).
#pragma once

#include "fedsign/fl/strategy/fedavg.h"

namespace fedsign::fl {

class FedOpt : public FedAvg {
 public:
  FedOpt(StrategyOptions options, FedOptParams params);
  std::string name() const override;
  const FedOptParams& params() const { return params_; }
  std::map<std::string, Weights> state() const override;
  void load_state(const std::map<std::string, Weights>& state) override;

 protected:
  Weights server_update(int64_t round, const Weights& global, const Weights& average) override;

 private:
  FedOptParams params_;
  FedOptState state_;
};

// Defaults per algorithm (eta: Adam/Yogi 1e-2, Adagrad 1e-1; beta1 0.9, beta2 0.99, tau 1e-3).
FedOptParams default_fedopt_params(FedOptKind kind);

}  // namespace fedsign::fl
