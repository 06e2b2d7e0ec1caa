#include "fedsign/fl/robust/wrap_robust.h"

#include <algorithm>

#include "fedsign/core/check.h"
#include "fedsign/fl/robust/robust_rules.h"

namespace fedsign::fl {

std::vector<std::string> robust_rule_names() {
  return {"none", "median", "trimmed-mean", "krum", "multi-krum", "fltrust", "cosine-filter"};
}

bool robust_rule_buffers(const std::string& rule) { return rule != "none"; }

bool robust_enabled(const RobustOptions& o) {
  return o.rule != "none" || o.clip_norm > 0 || o.adaptive_clip;
}

namespace {

void check_rule_name(const std::string& rule) {
  const auto names = robust_rule_names();
  FEDSIGN_CHECK(std::find(names.begin(), names.end(), rule) != names.end(),
                "unknown robust rule '{}' (one of none, median, trimmed-mean, krum, multi-krum, "
                "fltrust, cosine-filter)", rule);
}

}  // namespace

void check_robust_round(const RobustOptions& o, int64_t n) {
  check_rule_name(o.rule);
  if (!robust_rule_buffers(o.rule)) return;
  FEDSIGN_CHECK(n <= o.max_buffered_updates,
                "--robust {} would buffer {} updates per round, more than --robust-max-updates {}",
                o.rule, n, o.max_buffered_updates);
  if (o.rule == "krum" || o.rule == "multi-krum") {
    FEDSIGN_CHECK(n >= o.krum_f + 3,
                  "--robust {} with --krum-f {} needs at least {} clients per round (n >= f + 3), "
                  "got {}", o.rule, o.krum_f, o.krum_f + 3, n);
    FEDSIGN_CHECK(o.rule == "krum" || o.krum_m <= n,
                  "--robust multi-krum: --krum-m {} exceeds the {} clients per round", o.krum_m, n);
  }
  if (o.rule == "trimmed-mean") robust::trimmed_count(n, o.trim_beta);  // names beta if bad
}

std::unique_ptr<Strategy> wrap_robust(std::unique_ptr<Strategy> inner, const RobustOptions& o,
                                      robust::ServerRoot root) {
  check_rule_name(o.rule);
  FEDSIGN_CHECK(o.clip_norm >= 0, "--clip-norm {} < 0", o.clip_norm);
  std::unique_ptr<Strategy> out = std::move(inner);
  if (o.rule != "none") {
    robust::BufferedRuleOptions buffered;
    buffered.trim_beta = o.trim_beta;
    buffered.krum_f = o.krum_f;
    buffered.max_buffered_updates = o.max_buffered_updates;
    if (o.rule == "median") {
      buffered.rule = robust::BufferedRule::kMedian;
    } else if (o.rule == "trimmed-mean") {
      buffered.rule = robust::BufferedRule::kTrimmedMean;
    } else if (o.rule == "krum" || o.rule == "multi-krum") {
      buffered.rule = robust::BufferedRule::kMultiKrum;
      buffered.krum_m = o.rule == "krum" ? 1 : o.krum_m;
    } else if (o.rule == "cosine-filter") {
      buffered.rule = robust::BufferedRule::kCosineFilter;
      buffered.cosine_filter = {o.cosine_threshold, o.duplicate_cosine};
      buffered.cosine_memory = o.cosine_memory;
      buffered.cosine_strikes = o.cosine_strikes;
      buffered.cosine_drop_share = o.cosine_drop_share;
      FEDSIGN_CHECK(o.cosine_strikes_from == "any" || o.cosine_strikes_from == "label",
                    "--cosine-strikes-from: '{}' is neither 'any' nor 'label'",
                    o.cosine_strikes_from);
      buffered.strikes_from_label_test = o.cosine_strikes_from == "label";
      buffered.cosine_head = o.cosine_head;
      buffered.label_test_ratio = o.label_test_ratio;
      buffered.root_labels = std::move(root.labels);
    } else {
      buffered.rule = robust::BufferedRule::kFlTrust;
      buffered.server_update = std::move(root.update);
    }
    out = std::make_unique<robust::RobustStrategy>(std::move(out), std::move(buffered));
  }
  if (o.clip_norm > 0 || o.adaptive_clip) {
    robust::ClipOptions clip;
    clip.adaptive = o.adaptive_clip;
    clip.bound = o.clip_norm;  // 0 with adaptive clipping: set from the first round's norms
    clip.max_first_round_updates = o.max_buffered_updates;
    clip.target_quantile = o.clip_quantile;
    clip.lr = o.clip_lr;
    out = std::make_unique<robust::ClippingStrategy>(std::move(out), clip);
  }
  return out;
}

}  // namespace fedsign::fl
