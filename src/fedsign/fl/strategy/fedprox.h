// FedProx (Li et al. 2020, "Federated Optimization in Heterogeneous Networks"): FedAvg whose
// clients minimize f_i(w) + mu/2 ||w - w_global||^2. The strategy only sends `proximal_mu`;
// the client adds mu * (w - w_global) to its gradients (LocalClient, via
// train::TrainHooks::after_backward). With mu = 0 it is FedAvg exactly. Partial work of
// stragglers is aggregated like any result, as in the paper.
#pragma once

#include "fedsign/fl/strategy/fedavg.h"

namespace fedsign::fl {

class FedProx : public FedAvg {
 public:
  FedProx(StrategyOptions options, double proximal_mu);
  std::string name() const override { return "fedprox"; }
  double proximal_mu() const { return mu_; }

 protected:
  Config fit_config(int64_t round) const override;

 private:
  double mu_;
};

}  // namespace fedsign::fl
