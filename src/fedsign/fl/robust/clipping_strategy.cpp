#include "fedsign/fl/robust/clipping_strategy.h"

#include <algorithm>
#include <cmath>

#include "fedsign/fl/update.h"
#include "fedsign/fl/robust/robust_rules.h"

namespace fedsign::fl::robust {

namespace {
constexpr const char* kStateKey = "clip.bound";

// The smallest norm with at least `quantile` of `norms` at or below it (0 for no norms).
double norm_quantile(std::vector<double> norms, double quantile) {
  if (norms.empty()) return 0.0;
  std::sort(norms.begin(), norms.end());
  const auto n = static_cast<double>(norms.size());
  const auto rank = static_cast<std::size_t>(std::max(1.0, std::ceil(quantile * n)));
  return norms[std::min(rank, norms.size()) - 1];
}
}  // namespace

class ClippingStrategy::Aggregation : public FitAggregation {
 public:
  Aggregation(ClippingStrategy& strategy, int64_t round, Weights global)
      : strategy_(strategy), global_(std::move(global)),
        inner_(strategy.inner().begin_aggregate_fit(round, global_)), bound_(strategy.bound_) {}

  void add(FitResult result) override {
    if (result.num_examples <= 0) {  // ignored by the inner strategy anyway
      inner_->add(std::move(result));
      return;
    }
    const double norm = delta_norm(global_, result.weights);
    if (bound_ > 0) {
      clip_and_forward(std::move(result), norm);
      return;
    }
    // No bound yet: hold the result until the round's norms set it (finish).
    const int64_t limit = strategy_.options_.max_first_round_updates;
    FEDSIGN_CHECK(static_cast<int64_t>(held_.size()) < limit,
                  "adaptive clipping: more than {} results in the round that sets the initial "
                  "bound (give --clip-norm, or raise --robust-max-updates)", limit);
    held_norms_.push_back(norm);
    held_.push_back(std::move(result));
  }

  AggregateFitResult finish(const std::vector<Failure>& failures) override {
    if (!held_.empty()) {
      bound_ = norm_quantile(held_norms_, strategy_.options_.target_quantile);
      if (bound_ <= 0) bound_ = *std::max_element(held_norms_.begin(), held_norms_.end());
      for (std::size_t i = 0; i < held_.size(); ++i) {
        if (bound_ > 0) {
          clip_and_forward(std::move(held_[i]), held_norms_[i]);
        } else {  // every update is zero: nothing to clip, the bound stays unknown
          inner_->add(std::move(held_[i]));
        }
      }
      held_.clear();
    }
    AggregateFitResult out = inner_->finish(failures);
    out.metrics["clip_bound"] = bound_;
    if (count_ > 0) {
      const double n = static_cast<double>(count_);
      out.metrics["clip_fraction_clipped"] = 1.0 - static_cast<double>(unclipped_) / n;
      out.metrics["clip_mean_norm"] = norm_sum_ / n;
      const ClipOptions& o = strategy_.options_;
      if (o.adaptive) {
        strategy_.bound_ = adaptive_clip_bound(bound_, static_cast<double>(unclipped_) / n,
                                               o.target_quantile, o.lr);
      }
    }
    return out;
  }

 private:
  void clip_and_forward(FitResult result, double norm) {
    const double factor = clip_factor(norm, bound_);
    if (factor < 1.0) {
      result.weights = scale_delta(global_, result.weights, factor);
    } else {
      ++unclipped_;
    }
    ++count_;
    norm_sum_ += norm;
    inner_->add(std::move(result));
  }

  ClippingStrategy& strategy_;
  Weights global_;
  std::unique_ptr<FitAggregation> inner_;
  double bound_;
  int64_t count_ = 0, unclipped_ = 0;
  double norm_sum_ = 0.0;
  std::vector<FitResult> held_;  // round 1 without a bound: results until finish()
  std::vector<double> held_norms_;
};

ClippingStrategy::ClippingStrategy(std::unique_ptr<Strategy> inner, ClipOptions options)
    : DelegatingStrategy(std::move(inner)), options_(options), bound_(options.bound) {
  validate();
}

ClippingStrategy::ClippingStrategy(Strategy& inner, ClipOptions options)
    : DelegatingStrategy(inner), options_(options), bound_(options.bound) {
  validate();
}

void ClippingStrategy::validate() const {
  FEDSIGN_CHECK(options_.bound > 0 || (options_.adaptive && options_.bound == 0),
                "clipping: bound {} must be positive (0 only for adaptive clipping: set from the "
                "first round's norms)", options_.bound);
  FEDSIGN_CHECK(options_.target_quantile >= 0 && options_.target_quantile <= 1,
                "adaptive clipping: target quantile {} not in [0, 1]", options_.target_quantile);
  FEDSIGN_CHECK(options_.lr >= 0, "adaptive clipping: learning rate {} < 0", options_.lr);
}

std::string ClippingStrategy::name() const {
  return inner().name() + (options_.adaptive ? "+adaptive-clip" : "+clip");
}

std::unique_ptr<FitAggregation> ClippingStrategy::begin_aggregate_fit(int64_t round,
                                                                      const Weights& global) {
  return std::make_unique<Aggregation>(*this, round, global);
}

std::map<std::string, Weights> ClippingStrategy::state() const {
  std::map<std::string, Weights> out = inner().state();
  if (options_.adaptive && bound_ > 0) {
    Weights w;
    w.names = {"bound"};
    w.tensors = {torch::tensor(bound_, torch::kFloat64)};
    out[kStateKey] = std::move(w);
  }
  return out;
}

void ClippingStrategy::load_state(const std::map<std::string, Weights>& state) {
  std::map<std::string, Weights> rest = state;
  bound_ = options_.bound;
  if (auto it = rest.find(kStateKey); it != rest.end()) {
    FEDSIGN_CHECK(it->second.size() == 1 && it->second.tensors[0].numel() == 1,
                  "clipping state '{}': expected one scalar", kStateKey);
    bound_ = it->second.tensors[0].item<double>();
    FEDSIGN_CHECK(bound_ > 0, "clipping state: bound {} must be positive", bound_);
    rest.erase(it);
  }
  inner().load_state(rest);
}

}  // namespace fedsign::fl::robust
