// The base of strategy wrappers (after Flower's strategy wrappers, e.g. DifferentialPrivacy-
// ClientSideFixedClipping): a Strategy that forwards every call to an inner strategy, so a
// wrapper overrides only what it changes (robust_strategy.h and clipping_strategy.h override
// begin_aggregate_fit). The inner strategy is owned (unique_ptr) or borrowed (reference, must
// outlive the wrapper). Not thread-safe, like every Strategy.
#pragma once

#include <memory>
#include <utility>

#include "fedsign/core/check.h"
#include "fedsign/fl/strategy/strategy.h"

namespace fedsign::fl::robust {

class DelegatingStrategy : public Strategy {
 public:
  explicit DelegatingStrategy(std::unique_ptr<Strategy> inner)
      : owned_(std::move(inner)), inner_(checked(owned_.get())) {}
  explicit DelegatingStrategy(Strategy& inner) : inner_(inner) {}

  Strategy& inner() { return inner_; }
  const Strategy& inner() const { return inner_; }

  std::string name() const override { return inner_.name(); }
  std::optional<Weights> initialize_parameters() override { return inner_.initialize_parameters(); }
  std::vector<FitInstruction> configure_fit(int64_t round, const Weights& global,
                                            const ClientManager& clients) override {
    return inner_.configure_fit(round, global, clients);
  }
  std::unique_ptr<FitAggregation> begin_aggregate_fit(int64_t round,
                                                      const Weights& global) override {
    return inner_.begin_aggregate_fit(round, global);
  }
  std::vector<EvaluateInstruction> configure_evaluate(int64_t round, const Weights& global,
                                                      const ClientManager& clients) override {
    return inner_.configure_evaluate(round, global, clients);
  }
  std::optional<EvaluateSummary> aggregate_evaluate(int64_t round,
                                                    const std::vector<EvaluateResult>& results,
                                                    const std::vector<Failure>& failures) override {
    return inner_.aggregate_evaluate(round, results, failures);
  }
  std::optional<EvaluateSummary> evaluate(int64_t round, const Weights& global) override {
    return inner_.evaluate(round, global);
  }
  Weights released_model(const Weights& global) const override {
    return inner_.released_model(global);
  }
  std::map<std::string, Weights> state() const override { return inner_.state(); }
  void load_state(const std::map<std::string, Weights>& state) override {
    inner_.load_state(state);
  }

 private:
  static Strategy& checked(Strategy* inner) {
    FEDSIGN_CHECK(inner != nullptr, "strategy wrapper: no inner strategy");
    return *inner;
  }

  std::unique_ptr<Strategy> owned_;  // empty when the inner strategy is borrowed
  Strategy& inner_;
};

}  // namespace fedsign::fl::robust
