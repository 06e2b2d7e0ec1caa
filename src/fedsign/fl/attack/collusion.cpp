#include "fedsign/fl/attack/collusion.h"

#include "fedsign/core/check.h"
#include "fedsign/fl/attack/little_is_enough.h"

namespace fedsign::fl::attack {

CollusionAggregation::CollusionAggregation(std::unique_ptr<FitAggregation> inner, Weights global,
                                           std::set<ClientId> attackers, double z, bool omniscient)
    : inner_(std::move(inner)), global_(std::move(global)), attackers_(std::move(attackers)),
      z_(z), omniscient_(omniscient) {
  FEDSIGN_CHECK(inner_ != nullptr, "little-is-enough: no aggregation to wrap");
  FEDSIGN_CHECK(z_ >= 0, "little-is-enough: z {} < 0", z_);
}

void CollusionAggregation::add(FitResult result) {
  ++count_;
  const bool attacker = attackers_.count(result.client_id) > 0;
  if (attacker || omniscient_) observed_.push_back(result.weights);
  if (attacker) {
    held_.push_back(std::move(result));
  } else {
    inner_->add(std::move(result));
  }
}

AggregateFitResult CollusionAggregation::finish(const std::vector<Failure>& failures) {
  const auto m = static_cast<int64_t>(held_.size());
  const double z = z_ > 0 ? z_ : (m > 0 ? little_is_enough_z(count_, m) : 0.0);
  if (!held_.empty()) {
    const Weights crafted = little_is_enough(global_, observed_, z);
    observed_.clear();
    for (auto& r : held_) {
      r.weights = crafted;
      inner_->add(std::move(r));
    }
    held_.clear();
  }
  AggregateFitResult out = inner_->finish(failures);
  out.metrics["attack_num_attackers"] = static_cast<double>(m);
  out.metrics["attack_z"] = z;
  return out;
}

ColludingStrategy::ColludingStrategy(Strategy& inner, std::set<ClientId> attackers, double z,
                                     bool omniscient)
    : DelegatingStrategy(inner), attackers_(std::move(attackers)), z_(z), omniscient_(omniscient) {}

std::unique_ptr<FitAggregation> ColludingStrategy::begin_aggregate_fit(int64_t round,
                                                                       const Weights& global) {
  return std::make_unique<CollusionAggregation>(inner().begin_aggregate_fit(round, global), global,
                                                attackers_, z_, omniscient_);
}

}  // namespace fedsign::fl::attack
