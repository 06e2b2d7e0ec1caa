// make_strategy(): the built-in strategies by name.
#include <algorithm>

#include "fedsign/core/check.h"
#include "fedsign/train/schedule.h"
#include "fedsign/fl/strategy/fedavg.h"
#include "fedsign/fl/strategy/fedavgm.h"
#include "fedsign/fl/strategy/fedopt.h"
#include "fedsign/fl/strategy/fedprox.h"
#include "fedsign/fl/strategy/scaffold.h"

namespace fedsign::fl {

namespace {
double param(const std::map<std::string, double>& params, const std::string& key, double fallback) {
  auto it = params.find(key);
  return it == params.end() ? fallback : it->second;
}
}  // namespace

std::vector<std::string> strategy_names() {
  return {"fedavg", "fedprox", "fedavgm", "fedadam", "fedyogi", "fedadagrad", "scaffold"};
}

std::unique_ptr<Strategy> make_strategy(const std::string& name, const StrategyOptions& options,
                                        const std::map<std::string, double>& params) {
  if (name == "fedavg") return std::make_unique<FedAvg>(options);
  if (name == "fedprox") {
    return std::make_unique<FedProx>(options, param(params, "proximal_mu", 0.01));
  }
  if (name == "fedavgm") {
    return std::make_unique<FedAvgM>(options, param(params, "server_lr", 1.0),
                                     param(params, "server_momentum", 0.9));
  }
  if (name == "fedadam" || name == "fedyogi" || name == "fedadagrad") {
    const FedOptKind kind = name == "fedadam"   ? FedOptKind::kAdam
                            : name == "fedyogi" ? FedOptKind::kYogi
                                                : FedOptKind::kAdagrad;
    FedOptParams p = default_fedopt_params(kind);
    p.eta = param(params, "server_lr", p.eta);
    p.beta1 = param(params, "beta1", p.beta1);
    p.beta2 = param(params, "beta2", p.beta2);
    p.tau = param(params, "tau", p.tau);
    return std::make_unique<FedOpt>(options, p);
  }
  if (name == "scaffold") return std::make_unique<Scaffold>(options, param(params, "server_lr", 1.0));
  FEDSIGN_FAIL("unknown strategy '{}' (one of fedavg, fedprox, fedavgm, fedadam, fedyogi, "
               "fedadagrad, scaffold)", name);
}

double round_learning_rate(const StrategyOptions& options, double base_lr, int64_t round) {
  // The training schedules, with rounds as steps: "exponential" is a step schedule that decays
  // every round; "cosine" samples the half cosine at 0, 1/R, ..., (R-1)/R, so the last round
  // still learns.
  train::ScheduleConfig schedule;
  schedule.base_lr = base_lr;
  if (options.lr_schedule == "cosine") {
    FEDSIGN_CHECK(options.total_rounds >= 1, "cosine round schedule needs the number of rounds");
    schedule.kind = train::ScheduleKind::kCosine;
    schedule.min_lr = options.min_lr;
    schedule.total_steps = options.total_rounds;
  } else {
    FEDSIGN_CHECK(options.lr_schedule == "exponential",
                  "unknown round schedule '{}' (exponential or cosine)", options.lr_schedule);
    schedule.kind = train::ScheduleKind::kStep;
    schedule.step_size = 1;
    schedule.gamma = options.lr_decay;
  }
  return train::learning_rate_at(schedule, std::max<int64_t>(1, round) - 1);
}

AggregateFitResult Strategy::aggregate_fit(int64_t round, const Weights& global,
                                           std::vector<FitResult> results,
                                           const std::vector<Failure>& failures) {
  auto aggregation = begin_aggregate_fit(round, global);
  for (auto& r : results) aggregation->add(std::move(r));
  return aggregation->finish(failures);
}

}  // namespace fedsign::fl
