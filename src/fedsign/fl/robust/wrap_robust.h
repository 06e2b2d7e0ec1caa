// The robust aggregation rules by name, for the CLI's --robust options: wrap_robust() puts the
// wrapper(s) of a rule around any built-in strategy but SCAFFOLD (robust_strategy.h for the
// buffered rules, clipping_strategy.h for clipping). With clip_bound > 0 and a buffered rule,
// each update is clipped first (ClippingStrategy outside RobustStrategy).
//
// Rules (robust_rule_names()):
//   none           the inner strategy unchanged (streaming mean)
//   median         coordinate-wise median                         buffered, O(n log n d)
//   trimmed-mean   coordinate-wise mean without beta*n per side    buffered, O(n log n d)
//   krum           the most central update (Krum, f)              buffered, O(n^2 d)
//   multi-krum     mean of the m most central updates (f, m)      buffered, O(n^2 d)
//   clip           mean of updates clipped to clip_bound          streaming, O(d)
//   adaptive-clip  clip with a bound tracking a norm quantile     streaming, O(d)
//   fltrust        trust-weighted, norm-matched updates (needs the server's root-set update)
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "fedsign/fl/robust/clipping_strategy.h"
#include "fedsign/fl/robust/robust_strategy.h"

namespace fedsign::fl {

struct RobustOptions {
  std::string rule = "none";           // robust_rule_names()
  double trim_beta = 0.1;              // trimmed-mean: fraction cut from each end
  int64_t krum_f = 1;                  // krum, multi-krum: assumed attackers per round
  int64_t krum_m = 0;                  // multi-krum: updates averaged (0: n - f)
  double clip_bound = 0.0;             // clip: the bound (required); adaptive-clip: initial
                                       // bound (0: 0.1); other rules: > 0 clips first
  double clip_quantile = 0.5;          // adaptive-clip: target quantile of update norms
  double clip_lr = 0.2;                // adaptive-clip: geometric step size
  int64_t max_buffered_updates = 100;  // buffered rules: more results per round is an error
  robust::ServerUpdateFn server_update;  // fltrust: the server's model trained on its root set
};

std::vector<std::string> robust_rule_names();
// Whether `rule` keeps every update of a round in memory.
bool robust_rule_buffers(const std::string& rule);

// `inner` wrapped for options.rule; throws fedsign::Error for an unknown rule or bad parameter.
std::unique_ptr<Strategy> wrap_robust(std::unique_ptr<Strategy> inner, const RobustOptions& options);

}  // namespace fedsign::fl
