// The model a run reports and saves as an exponential moving average of its global models
// (Polyak-Ruppert averaging of the server's iterates, in its exponential form):
//   ema_0 = the first round's starting model, ema_t = d ema_{t-1} + (1 - d) x_t,
// x_t the global model after round t. Clients keep training from x_t; central and federated
// evaluation, model.pt and the test split see ema_t. Why: late in a noisy run (DP noise, small
// non-IID rounds) x_t wanders around the optimum and an average of the last ~1/(1-d) rounds sits
// closer to it. Under DP the average is post-processing of released models: it costs no privacy.
// Wrapped inside the DP wrapper (whose accountant stays outermost), around everything else.
// The average is server state: checkpointed (key "model_ema"), so --resume continues it.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "fedsign/fl/robust/delegating_strategy.h"

namespace fedsign::fl {

class ModelEma : public robust::DelegatingStrategy {
 public:
  // decay in (0, 1): the weight of the running average each round.
  ModelEma(std::unique_ptr<Strategy> inner, double decay);

  std::unique_ptr<FitAggregation> begin_aggregate_fit(int64_t round,
                                                      const Weights& global) override;
  std::vector<EvaluateInstruction> configure_evaluate(int64_t round, const Weights& global,
                                                      const ClientManager& clients) override;
  std::optional<EvaluateSummary> evaluate(int64_t round, const Weights& global) override;
  Weights released_model(const Weights& global) const override;
  std::map<std::string, Weights> state() const override;
  void load_state(const std::map<std::string, Weights>& state) override;

  double decay() const { return decay_; }

 private:
  class Aggregation;
  void fold(const Weights& next);

  double decay_;
  Weights average_;  // empty before the first round
};

}  // namespace fedsign::fl
