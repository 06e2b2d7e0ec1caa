#include "privacy_options.h"

#include <fmt/format.h>

#include "fedsign/fl/privacy/dp_fedavg.h"

namespace fedsign::cli {

void add_privacy_options(CLI::App& cmd, fl::FederationConfig& config) {
  fl::privacy::DpOptions& dp = config.dp;
  // "Not given" must be visible to the solver: any real multiplier is >= 0.
  dp.noise_multiplier = -1;
  const char* g = kPrivacyGroup;
  cmd.add_option("--dp", config.dp_mode,
                 "client-level differential privacy: off, central (the server clips and adds "
                 "noise) or distributed (each client clips and adds its share); needs "
                 "--clients-per-round")
      ->check(CLI::IsMember({"off", "central", "distributed"}))
      ->capture_default_str()
      ->group(g);
  cmd.add_option("--dp-clip", dp.clip,
                 "L2 bound C on one client's update (with --dp-adaptive-clip: the first round's)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(g);
  cmd.add_flag("--dp-adaptive-clip", dp.adaptive_clip,
               "move the clip towards the --dp-target-quantile of the update norms (Andrew et "
               "al. 2021)")
      ->group(g);
  cmd.add_option("--dp-target-quantile", dp.target_quantile,
                 "adaptive clipping: share of updates left unclipped")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str()
      ->group(g);
  cmd.add_option("--dp-noise-multiplier", dp.noise_multiplier,
                 "noise multiplier z: Gaussian noise of stddev z C on the sum of the clipped "
                 "updates (< 0: solved from --target-epsilon over --rounds)")
      ->capture_default_str()
      ->group(g);
  cmd.add_option("--target-epsilon", dp.target_epsilon,
                 "privacy budget: a round that would pass it stops the run (0: no budget)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(g);
  cmd.add_option("--dp-delta", dp.delta, "delta of the (epsilon, delta) guarantee")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str()
      ->group(g);
  cmd.add_flag("--allow-over-budget", dp.allow_over_budget,
               "go on past --target-epsilon (the epsilon spent is still reported)")
      ->group(g);
}

std::string privacy_spent(const fl::Strategy& strategy) {
  const auto* dp = dynamic_cast<const fl::privacy::DpFedAvg*>(&strategy);
  if (dp == nullptr) return "";
  return fmt::format("DP ({}): epsilon {:.4g} at delta {:g}",
                     fl::privacy::to_string(dp->options().mode), dp->epsilon(), dp->options().delta);
}

}  // namespace fedsign::cli
