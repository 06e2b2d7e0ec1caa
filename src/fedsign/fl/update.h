// Client updates: what a client's training changed, local - global, over the FLOATING tensors of
// the model (parameters and BatchNorm running statistics). Integer tensors (BatchNorm's
// num_batches_tracked) are counters, not learned values: an update carries the client's own value
// for them, they weigh in no norm, and no clipping or scaling touches them.
//
// One home for the update arithmetic that the server's bounds (net/validate), clipping
// (robust), DP-FedAvg (privacy), attacks and compression share. Pure functions; thread-safe.
#pragma once

#include "fedsign/fl/weights.h"

namespace fedsign::fl {

// Floating tensors: local - global; integer tensors: local's values. Throws fedsign::Error if
// the layouts differ.
Weights model_delta(const Weights& global, const Weights& local);

// The inverse: floating tensors: global + delta, in global's dtype; integer tensors: delta's.
Weights apply_delta(const Weights& global, const Weights& delta);

// The L2 norm over the floating tensors of `w`, accumulated in float64.
double l2_norm(const Weights& w);

// ||local - global|| over the floating tensors, tensor by tensor (no copy of the whole model).
double delta_norm(const Weights& global, const Weights& local);

// Floating tensors: global + factor * (local - global), computed in float64 and stored in local's
// dtype; integer tensors: local's. factor < 1 clips an update, < 0 reverses it.
Weights scale_delta(const Weights& global, const Weights& local, double factor);

// `delta` scaled by min(1, bound / ||delta||) over its floating tensors; `norm` (if given)
// receives ||delta||. bound must be > 0.
Weights clip_delta(const Weights& delta, double bound, double* norm = nullptr);

}  // namespace fedsign::fl
