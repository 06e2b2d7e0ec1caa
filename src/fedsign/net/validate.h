// Validation of a client's update before it may touch the aggregate: layout (tensor names,
// shapes, dtypes in order) against what the server sent, finite values, example count (capped
// by what the client declared and by the server), and the size of the change it makes (L2
// norm of update - global, so that huge but finite weights cannot steer the average).
// Evaluation results get the same treatment: finite non-negative loss, finite metrics,
// accuracies in [0, 1], bounded example counts (their weighted sums cannot overflow).
// Pure functions returning Status (tested in tests/net/validate_test.cpp).
#pragma once

#include <optional>

#include "fedsign/fl/messages.h"
#include "fedsign/net/status.h"

namespace fedsign::net {

// `what` names the weight set in messages ("weights", "control").
Status check_layout(const fl::Weights& expected, const fl::Weights& got, const std::string& what);
// Every floating-point value finite.
Status check_finite(const fl::Weights& w, const std::string& what);

struct UpdateLimits {
  int64_t max_examples = 1000000;
  // Bound on the L2 norm of (update - global) over floating-point tensors: > 0 absolute;
  // < 0 automatic, max(10, 10 x the norm of the global model); 0 no bound.
  double max_update_norm = -1;
  // Beyond the bound: scale the change down to it (true) instead of rejecting the update.
  bool clip = false;
  // The norm of the global model when the caller knows it (>= 0; the server computes it once a
  // round: a pass over a ResNet-18 is ~25 ms, paid by every upload otherwise); < 0: computed.
  double known_global_norm = -1;
};

// The bound that `limits.max_update_norm` means for `global`.
double update_norm_bound(const fl::Weights& global, const UpdateLimits& limits);
// The norm of an update is fl::delta_norm (fl/update.h): L2 over the floating tensors,
// accumulated in double precision so that 1e30-sized weights give a finite, comparable number.

// A FIT update: weights like `global`, control like `control_layout` when the task carried one
// (SCAFFOLD) and absent otherwise, finite metrics, 0 <= num_examples <= max, and a change
// within the norm bound. With limits.clip an update beyond the bound is scaled back onto it
// (hence `update` is not const); *norm receives the norm measured before clipping.
Status validate_fit_update(const fl::Weights& global, const std::optional<fl::Weights>& control_layout,
                           fl::FitResult& update, const UpdateLimits& limits = {},
                           double* norm = nullptr);

// An EVALUATE result: 0 <= num_examples <= max_examples, loss finite and >= 0, metrics finite,
// metrics whose name contains "accuracy" in [0, 1].
Status validate_evaluate_result(int64_t num_examples, double loss, const fl::Metrics& metrics,
                                int64_t max_examples);

}  // namespace fedsign::net
