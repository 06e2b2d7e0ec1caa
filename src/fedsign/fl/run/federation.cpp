#include "fedsign/fl/run/federation.h"

#include <map>

#include "fedsign/core/check.h"
#include "fedsign/fl/strategy/fedavg.h"

namespace fedsign::fl {

StrategyOptions federation_strategy_options(const FederationConfig& c) {
  FEDSIGN_CHECK(c.min_fit_clients >= 1, "min-fit-clients must be >= 1, got {}", c.min_fit_clients);
  FEDSIGN_CHECK(c.min_results >= 1, "min-results must be >= 1, got {}", c.min_results);
  FEDSIGN_CHECK(c.min_available_clients >= 1, "min-available-clients must be >= 1, got {}",
                c.min_available_clients);
  FEDSIGN_CHECK(c.lr > 0, "lr must be > 0, got {}", c.lr);
  StrategyOptions o;
  o.fraction_fit = c.fraction_fit;
  o.clients_per_round = c.clients_per_round;
  o.min_fit_clients = c.min_fit_clients;
  o.min_results = c.min_results;
  o.fraction_evaluate = c.fraction_evaluate;
  o.evaluate_clients_per_round = c.evaluate_clients;
  o.seed = c.seed;
  o.fit_config[keys::kLocalEpochs] = c.local_epochs;
  o.fit_config[keys::kLocalSteps] = c.local_steps;
  o.fit_config[keys::kLr] = c.lr;
  o.lr_schedule = c.round_schedule;
  o.lr_decay = c.lr_decay;
  o.min_lr = c.min_lr;
  o.total_rounds = c.rounds;
  return o;
}

std::unique_ptr<Strategy> make_federation_strategy(const FederationConfig& c,
                                                   CentralEvaluateFn evaluate,
                                                   robust::ServerUpdateFn root_update) {
  StrategyOptions options = federation_strategy_options(c);
  options.evaluate_fn = std::move(evaluate);
  std::map<std::string, double> params = {{"proximal_mu", c.proximal_mu},
                                          {"server_momentum", c.server_momentum},
                                          {"beta1", c.beta1},
                                          {"beta2", c.beta2},
                                          {"tau", c.tau}};
  if (c.server_lr > 0) params["server_lr"] = c.server_lr;
  FEDSIGN_CHECK(c.robust.rule != "fltrust" || root_update,
                "--robust fltrust needs the server's root set (--fltrust-root images of --data)");
  return wrap_robust(make_strategy(c.strategy, options, params), c.robust, std::move(root_update));
}

int64_t federation_clients_per_round(const FederationConfig& c, int64_t available) {
  // Every built-in strategy samples as FedAvg does.
  return FedAvg(federation_strategy_options(c)).num_fit_clients(available);
}

}  // namespace fedsign::fl
