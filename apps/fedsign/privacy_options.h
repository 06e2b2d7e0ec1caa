// The Privacy option group, declared once for `fl simulate` and `fl server`: client-level
// differential privacy (DP-FedAvg, docs/privacy.md) with --dp, --dp-clip, --dp-adaptive-clip,
// --dp-target-quantile, --dp-noise-multiplier, --target-epsilon, --dp-delta and
// --allow-over-budget. They shape the run, so they are among its settings (fl_options.h:
// settings_json) and a resumed run must repeat them. `fl client` takes none: the server's fit
// instructions tell a client what to do.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

#include "fedsign/fl/run/federation.h"
#include "fedsign/fl/strategy/strategy.h"

namespace fedsign::cli {

inline constexpr const char* kPrivacyGroup = "Privacy";

// Binds the options to config.dp_mode and config.dp (noise multiplier default -1: solved from
// --target-epsilon).
void add_privacy_options(CLI::App& command, fl::FederationConfig& config);

// "DP (central): epsilon 2.31 at delta 1e-05" for a DP strategy; empty for any other.
std::string privacy_spent(const fl::Strategy& strategy);

}  // namespace fedsign::cli
