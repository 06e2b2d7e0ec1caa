// ClippingStrategy: a streaming Strategy wrapper that clips each client's update to an L2 norm
// bound before the inner strategy aggregates it: w_i <- global + (w_i - global) * min(1, C/||w_i -
// global||) over the floating tensors (flat_update.h). Nothing is buffered: each result is clipped
// and forwarded to the inner aggregation at once, so server memory stays O(model).
//
// The bound C is fixed, or adaptive (Andrew et al. 2021, robust_rules.h adaptive_clip_bound):
// after each round C <- C * exp(-lr * (b - target_quantile)) with b the fraction of that round's
// updates whose norm was <= C, so C tracks the target quantile of the update norms. The adaptive
// bound is server state: state() adds "clip.bound" to the inner strategy's state.
// Without a given initial bound (bound = 0, adaptive only) the first round holds its results
// (at most max_first_round_updates) and starts C at the target quantile of their norms: a fixed
// start (Andrew et al.'s 0.1) can be orders of magnitude off the real norms, and the geometric
// update then needs dozens of rounds to reach them, clipping every update to a sliver meanwhile.
// DP's adaptive clipping (fl/privacy) cannot look at the norms and keeps its own fixed start.
// Round metrics: clip_bound (used this round), clip_fraction_clipped, clip_mean_norm.
// Not thread-safe.
#pragma once

#include <memory>

#include "fedsign/fl/robust/delegating_strategy.h"

namespace fedsign::fl::robust {

struct ClipOptions {
  double bound = 1.0;            // C (the initial C when adaptive; 0 there: from round 1's norms)
  bool adaptive = false;
  double target_quantile = 0.5;  // gamma: share of updates meant to pass unclipped
  double lr = 0.2;               // eta_C of the geometric update
  int64_t max_first_round_updates = 1000;  // bound = 0: results round 1 may hold
};

class ClippingStrategy : public DelegatingStrategy {
 public:
  ClippingStrategy(std::unique_ptr<Strategy> inner, ClipOptions options);
  ClippingStrategy(Strategy& inner, ClipOptions options);

  std::string name() const override;
  std::unique_ptr<FitAggregation> begin_aggregate_fit(int64_t round,
                                                      const Weights& global) override;
  std::map<std::string, Weights> state() const override;
  void load_state(const std::map<std::string, Weights>& state) override;

  double bound() const { return bound_; }  // the bound the next round uses (0: not yet known)

 private:
  class Aggregation;
  void validate() const;
  ClipOptions options_;
  double bound_;
};

}  // namespace fedsign::fl::robust
