#include "fedsign/fl/strategy/model_ema.h"

#include "fedsign/core/check.h"
#include "fedsign/fl/strategy/aggregate.h"

namespace fedsign::fl {

namespace {
constexpr const char* kStateKey = "model_ema";
}

class ModelEma::Aggregation : public FitAggregation {
 public:
  Aggregation(ModelEma& owner, std::unique_ptr<FitAggregation> inner)
      : owner_(owner), inner_(std::move(inner)) {}

  void add(FitResult result) override { inner_->add(std::move(result)); }

  AggregateFitResult finish(const std::vector<Failure>& failures) override {
    AggregateFitResult out = inner_->finish(failures);
    owner_.fold(out.weights);
    return out;
  }

 private:
  ModelEma& owner_;
  std::unique_ptr<FitAggregation> inner_;
};

ModelEma::ModelEma(std::unique_ptr<Strategy> inner, double decay)
    : DelegatingStrategy(std::move(inner)), decay_(decay) {
  FEDSIGN_CHECK(decay > 0 && decay < 1, "--model-ema {} not in (0, 1)", decay);
}

std::unique_ptr<FitAggregation> ModelEma::begin_aggregate_fit(int64_t round,
                                                              const Weights& global) {
  if (average_.empty()) average_ = clone(global);  // the average starts at the first model
  return std::make_unique<Aggregation>(*this, inner().begin_aggregate_fit(round, global));
}

void ModelEma::fold(const Weights& next) {
  // Integer tensors (BatchNorm's num_batches_tracked) are averaged and rounded like FedAvg's.
  average_ = weighted_average({average_, next}, {decay_, 1.0 - decay_});
}

std::vector<EvaluateInstruction> ModelEma::configure_evaluate(int64_t round, const Weights& global,
                                                              const ClientManager& clients) {
  return inner().configure_evaluate(round, released_model(global), clients);
}

std::optional<EvaluateSummary> ModelEma::evaluate(int64_t round, const Weights& global) {
  return inner().evaluate(round, released_model(global));
}

Weights ModelEma::released_model(const Weights& global) const {
  return average_.empty() ? inner().released_model(global) : average_;
}

std::map<std::string, Weights> ModelEma::state() const {
  std::map<std::string, Weights> state = inner().state();
  FEDSIGN_CHECK(state.count(kStateKey) == 0, "model EMA: the inner strategy's state has a {}",
                kStateKey);
  if (!average_.empty()) state[kStateKey] = average_;
  return state;
}

void ModelEma::load_state(const std::map<std::string, Weights>& state) {
  std::map<std::string, Weights> rest = state;
  average_ = {};
  if (auto it = rest.find(kStateKey); it != rest.end()) {
    average_ = it->second;
    rest.erase(it);
  }
  inner().load_state(rest);
}

}  // namespace fedsign::fl
