// FedAvgM (Hsu, Qi and Brown 2019, "Measuring the Effects of Non-Identical Data Distribution
// for Federated Visual Classification"): FedAvg with server momentum on the averaged update,
// v = beta * v + (avg - x), x = x + server_lr * v (fedavgm_step in aggregate.h). With beta = 0
// and server_lr = 1 it is FedAvg. The velocity is server state (checkpointed).
#pragma once

#include "fedsign/fl/strategy/fedavg.h"

namespace fedsign::fl {

class FedAvgM : public FedAvg {
 public:
  FedAvgM(StrategyOptions options, double server_lr = 1.0, double momentum = 0.9);
  std::string name() const override { return "fedavgm"; }
  std::map<std::string, Weights> state() const override;
  void load_state(const std::map<std::string, Weights>& state) override;

 protected:
  Weights server_update(int64_t round, const Weights& global, const Weights& average) override;

 private:
  double server_lr_, momentum_;
  Weights velocity_;
};

}  // namespace fedsign::fl
