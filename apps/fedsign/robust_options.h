// Robust aggregation, attack simulation and update compression options (docs/robustness.md),
// declared once:
//
//   group               simulate  server  client
//   Robustness          yes       yes     -        (the server aggregates)
//   Attack simulation   yes       -       -
//   Compression         yes       yes     -        (the server asks its clients in each task)
//
// All of them shape a run, so they are part of its settings (checked on --resume).
#pragma once

#include <CLI/CLI.hpp>

#include "fedsign/fl/attack/attack_options.h"
#include "fedsign/fl/compress/upload.h"
#include "fedsign/fl/robust/wrap_robust.h"

namespace fedsign::cli {

// --robust, --trim-beta, --krum-f, --krum-m, --clip-norm, --adaptive-clip, --clip-quantile,
// --robust-max-updates, --fltrust-root.
void add_robust_options(CLI::App& command, fl::RobustOptions& options);

// --attack, --attack-fraction, --attack-scale, --backdoor-target.
void add_attack_options(CLI::App& command, fl::attack::AttackOptions& options);

// --compress, --topk-fraction, --topk-dense-up-to, --int8-per-channel.
void add_compress_options(CLI::App& command, fl::compress::CompressOptions& options);

}  // namespace fedsign::cli
