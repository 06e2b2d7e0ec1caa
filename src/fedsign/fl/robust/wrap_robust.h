// The robust aggregation settings by name, as the CLI's Robustness options give them (one plain
// struct, part of fl::FederationConfig): wrap_robust() puts the wrapper(s) they describe around
// any built-in strategy but SCAFFOLD. A buffered rule becomes a RobustStrategy
// (robust_strategy.h); norm clipping, fixed or adaptive, a ClippingStrategy (clipping_strategy.h)
// OUTSIDE it, so every update is clipped before the rule sees it (clipping alone wraps the inner
// mean and keeps it streaming).
//
// Rules (robust_rule_names()):
//   none           the inner strategy's weighted mean                streaming, O(d)
//   median         coordinate-wise median                           buffered, O(n log n d)
//   trimmed-mean   coordinate-wise mean without beta*n per side      buffered, O(n log n d)
//   krum           the most central update (Krum, f)                buffered, O(n^2 d)
//   multi-krum     mean of the m most central updates (f, m)        buffered, O(n^2 d)
//   fltrust        trust-weighted, norm-matched updates              buffered, O(n d) + one
//                  (needs the server's update on its root set)       server training per round
//   cosine-filter  mean of the updates along the round's median     buffered, O(n log n d)
//                  (cosine > threshold), near copies dropped,        + O(n^2 d)
//                  optionally with memory of caught clients and a
//                  test of the output layer on its own
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
  double clip_norm = 0.0;              // > 0: clip every update to this L2 norm (with
                                       // adaptive_clip: the initial bound; 0 there: the
                                       // clip_quantile of the first round's update norms)
  bool adaptive_clip = false;          // the bound tracks clip_quantile of the update norms
  double clip_quantile = 0.5;          // adaptive: target share of updates left unclipped
  double clip_lr = 0.2;                // adaptive: geometric step of the bound
  int64_t max_buffered_updates = 100;  // buffered rules: more results in a round is an error
  double cosine_threshold = 0.0;       // cosine-filter: keep updates whose cosine with the
                                       // round's coordinate-wise median is above this
  double duplicate_cosine = 1.1;       // cosine-filter: drop near copies at this cosine (> 1: off)
  bool cosine_memory = false;          // cosine-filter: a client once dropped stays out
  int64_t cosine_strikes = 1;          // cosine-filter memory: ... once dropped in this many rounds
  double cosine_drop_share = 0.0;      // ... and in at least this share of its rounds
  std::string cosine_strikes_from = "any";  // the drops memory counts: "any" test's, or only
                                       // the "label" test's (robust_strategy.h)
  bool cosine_head = false;            // cosine-filter: the output layer is tested on its own too
  double label_test_ratio = 0.0;       // cosine-filter, in (0, 1]: also drop updates whose model
                                       // labels the server's root set worse than this x the
                                       // round's median (robust_rules.h label_recall; 0: off)
  int64_t fltrust_root = 100;          // fltrust: images in the server's root set (the caller
                                       // draws them: run/root_update.h)
};

std::vector<std::string> robust_rule_names();
// Whether `rule` keeps every update of a round in memory.
bool robust_rule_buffers(const std::string& rule);
// Whether `options` change aggregation at all (a rule or clipping).
bool robust_enabled(const RobustOptions& options);

// Throws fedsign::Error (one line, naming the option) unless every round of `clients_per_round`
// updates can be aggregated under `options`: Krum needs n >= f + 3, Multi-Krum m <= n, and a
// buffered rule n <= max_buffered_updates. Fewer updates in a round at run time (dropouts) are
// not an error: that round keeps the global model (robust_strategy.h).
void check_robust_round(const RobustOptions& options, int64_t clients_per_round);

// `inner` wrapped for `options`; `root` is the server's root set: its training (required for
// rule fltrust, ignored otherwise) and a model's labels of it (required for label_test_ratio > 0).
// Throws fedsign::Error for an unknown rule or bad parameter.
std::unique_ptr<Strategy> wrap_robust(std::unique_ptr<Strategy> inner, const RobustOptions& options,
                                      robust::ServerRoot root = {});

}  // namespace fedsign::fl
