#include "fedsign/fl/strategy/frozen_layers.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "fedsign/core/check.h"

namespace fedsign::fl {

class FrozenLayers::Aggregation : public FitAggregation {
 public:
  Aggregation(const FrozenLayers& owner, std::unique_ptr<FitAggregation> inner, Weights global)
      : owner_(owner), inner_(std::move(inner)), global_(std::move(global)) {}

  void add(FitResult result) override {
    result.weights = owner_.hold(global_, std::move(result.weights));
    inner_->add(std::move(result));
  }

  AggregateFitResult finish(const std::vector<Failure>& failures) override {
    AggregateFitResult out = inner_->finish(failures);
    out.weights = owner_.hold(global_, std::move(out.weights));
    return out;
  }

 private:
  const FrozenLayers& owner_;
  std::unique_ptr<FitAggregation> inner_;
  Weights global_;
};

FrozenLayers::FrozenLayers(std::unique_ptr<Strategy> inner, std::vector<std::string> groups,
                           std::set<std::string> frozen)
    : DelegatingStrategy(std::move(inner)),
      trainable_(fmt::format("{}", fmt::join(groups, ","))),
      frozen_(std::move(frozen)) {
  FEDSIGN_CHECK(!groups.empty(), "frozen layers: no trainable layer group");
}

std::vector<FitInstruction> FrozenLayers::configure_fit(int64_t round, const Weights& global,
                                                        const ClientManager& clients) {
  std::vector<FitInstruction> out = inner().configure_fit(round, global, clients);
  for (FitInstruction& instruction : out) instruction.ins.config[keys::kTrainableGroups] = trainable_;
  return out;
}

std::unique_ptr<FitAggregation> FrozenLayers::begin_aggregate_fit(int64_t round,
                                                                  const Weights& global) {
  return std::make_unique<Aggregation>(*this, inner().begin_aggregate_fit(round, global), global);
}

Weights FrozenLayers::hold(const Weights& global, Weights weights) const {
  check_same_layout(weights, global, "frozen layers");
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (frozen_.count(weights.names[i]) > 0) weights.tensors[i] = global.tensors[i];
  }
  return weights;
}

}  // namespace fedsign::fl
