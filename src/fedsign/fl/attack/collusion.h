// The colluding "little is enough" attackers in a simulation, as a decorator of one round's
// FitAggregation (what Strategy::begin_aggregate_fit returned): benign results pass straight
// through (the inner aggregation still streams them); the attackers' results are held until
// finish(), when each is replaced by global + mean - z * std of the updates the attackers observed
// (little_is_enough.h) and forwarded. The attackers observe their own honestly trained updates
// (the paper's default), or, with `omniscient`, every update of the round. z = 0 takes the
// paper's z_max for n = the round's results and m = its attackers.
// Memory: the attackers' models (all n models when omniscient). Not thread-safe.
//
// ColludingStrategy puts that decorator around every round of a strategy, so that the attackers
// act before the server's aggregation (robust wrappers included) sees anything: the simulation
// runs the federation's strategy inside it when --attack little-is-enough.
#pragma once

#include <memory>
#include <set>

#include "fedsign/fl/robust/delegating_strategy.h"
#include "fedsign/fl/strategy/strategy.h"

namespace fedsign::fl::attack {

class CollusionAggregation : public FitAggregation {
 public:
  CollusionAggregation(std::unique_ptr<FitAggregation> inner, Weights global,
                       std::set<ClientId> attackers, double z = 0.0, bool omniscient = false);
  void add(FitResult result) override;
  // The returned metrics add attack_num_attackers (this round) and attack_z (the z used).
  AggregateFitResult finish(const std::vector<Failure>& failures) override;

 private:
  std::unique_ptr<FitAggregation> inner_;
  Weights global_;
  std::set<ClientId> attackers_;
  double z_;
  bool omniscient_;
  std::vector<FitResult> held_;
  std::vector<Weights> observed_;
  int64_t count_ = 0;
};

// A borrowed strategy whose round aggregations are CollusionAggregations; everything else,
// its name and state included (checkpoints do not change), is the inner strategy's.
class ColludingStrategy : public robust::DelegatingStrategy {
 public:
  ColludingStrategy(Strategy& inner, std::set<ClientId> attackers, double z = 0.0,
                    bool omniscient = false);
  std::unique_ptr<FitAggregation> begin_aggregate_fit(int64_t round,
                                                      const Weights& global) override;

 private:
  std::set<ClientId> attackers_;
  double z_;
  bool omniscient_;
};

}  // namespace fedsign::fl::attack
