// Client updates as flat vectors, the form robust aggregation works on: the update of a client is
// delta = local - global over the FLOATING tensors of the model (parameters and BatchNorm running
// statistics), concatenated in the model's order into one float32 vector. Integer tensors
// (BatchNorm's num_batches_tracked) are counters, not learned values; they are left out of the
// vector (so they weigh in no norm or distance) and averaged by examples as FedAvg does.
// Pure functions; thread-safe.
#pragma once

#include <torch/types.h>

#include <vector>

#include "fedsign/fl/weights.h"

namespace fedsign::fl::robust {

// The floating-point tensors of `layout`, and their total number of values.
std::vector<bool> floating_mask(const Weights& layout);
int64_t floating_numel(const Weights& layout);

// Where the output layer's values lie in a flat update: the tensors of the module that owns the
// last 2-D floating tensor (the final Linear's weight, e.g. head.weight, fc.weight or
// classifier.3.weight; its bias beside it), which the cosine filter can test on its own
// (--cosine-head). Throws fedsign::Error if there is no 2-D floating tensor or the layer's
// tensors are not adjacent.
struct FlatRange {
  int64_t offset = 0;
  int64_t length = 0;
};
FlatRange output_layer_range(const Weights& layout);

// (local - global) over the floating tensors, flattened: 1-D float32 of floating_numel values.
// Throws fedsign::Error if the layouts differ.
torch::Tensor flat_delta(const Weights& global, const Weights& local);

// global + delta for the floating tensors (delta as returned by flat_delta, float32 or float64),
// in global's dtypes; the integer tensors, in order, are taken from `integers` (only integer
// tensors, e.g. their weighted mean), or from global if `integers` is empty.
Weights apply_flat_delta(const Weights& global, const torch::Tensor& delta,
                         const Weights& integers = {});

}  // namespace fedsign::fl::robust
