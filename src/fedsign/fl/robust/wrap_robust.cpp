#include "fedsign/fl/robust/wrap_robust.h"

#include <algorithm>

#include "fedsign/core/check.h"

namespace fedsign::fl {

std::vector<std::string> robust_rule_names() {
  return {"none", "median", "trimmed-mean", "krum", "multi-krum", "clip", "adaptive-clip",
          "fltrust"};
}

bool robust_rule_buffers(const std::string& rule) {
  return rule == "median" || rule == "trimmed-mean" || rule == "krum" || rule == "multi-krum" ||
         rule == "fltrust";
}

std::unique_ptr<Strategy> wrap_robust(std::unique_ptr<Strategy> inner, const RobustOptions& o) {
  const auto names = robust_rule_names();
  FEDSIGN_CHECK(std::find(names.begin(), names.end(), o.rule) != names.end(),
                "unknown robust rule '{}' (one of none, median, trimmed-mean, krum, multi-krum, "
                "clip, adaptive-clip, fltrust)", o.rule);
  FEDSIGN_CHECK(o.clip_bound >= 0, "robust: clip bound {} < 0", o.clip_bound);
  if (o.rule == "none") return inner;
  if (o.rule == "clip" || o.rule == "adaptive-clip") {
    robust::ClipOptions clip;
    clip.adaptive = o.rule == "adaptive-clip";
    FEDSIGN_CHECK(clip.adaptive || o.clip_bound > 0, "robust rule 'clip' needs a clip bound > 0");
    clip.bound = o.clip_bound > 0 ? o.clip_bound : 0.1;  // Andrew et al.'s initial bound
    clip.target_quantile = o.clip_quantile;
    clip.lr = o.clip_lr;
    return std::make_unique<robust::ClippingStrategy>(std::move(inner), clip);
  }
  robust::BufferedRuleOptions buffered;
  buffered.trim_beta = o.trim_beta;
  buffered.krum_f = o.krum_f;
  buffered.max_buffered_updates = o.max_buffered_updates;
  buffered.server_update = o.server_update;
  if (o.rule == "median") {
    buffered.rule = robust::BufferedRule::kMedian;
  } else if (o.rule == "trimmed-mean") {
    buffered.rule = robust::BufferedRule::kTrimmedMean;
  } else if (o.rule == "krum" || o.rule == "multi-krum") {
    buffered.rule = robust::BufferedRule::kMultiKrum;
    buffered.krum_m = o.rule == "krum" ? 1 : o.krum_m;
  } else {
    buffered.rule = robust::BufferedRule::kFlTrust;
  }
  std::unique_ptr<Strategy> robust =
      std::make_unique<robust::RobustStrategy>(std::move(inner), std::move(buffered));
  if (o.clip_bound <= 0) return robust;
  robust::ClipOptions clip;
  clip.bound = o.clip_bound;
  return std::make_unique<robust::ClippingStrategy>(std::move(robust), clip);
}

}  // namespace fedsign::fl
