// A model update as secure aggregation's input, and the round's sum back as an update: the
// bridge between DP-FedAvg's clipped (and, in distributed mode, noised) updates and the uint32
// words that SecAggClient masks. One client's input is
//   [ fixed-point(local - global) over the floating tensors, flattened in layout order ...,
//     1 if the update was within the DP clip else 0 ]
// The last word is a plain count (not scaled): its sum is the number of unclipped updates that
// adaptive clipping needs, released only as a sum. Integer tensors (BatchNorm counters) are not
// sent: the aggregate keeps the global's values for them.
#pragma once

#include <cstdint>
#include <vector>

#include "fedsign/fl/messages.h"
#include "fedsign/fl/privacy/fixed_point.h"

namespace fedsign::fl::privacy {

// Keys a secure-aggregation round adds to every FitIns config (the client reads them).
namespace secagg_keys {
inline constexpr const char* kThreshold = "secagg_threshold";  // int: Shamir threshold t
inline constexpr const char* kClients = "secagg_clients";      // int: clients sampled (summands)
inline constexpr const char* kBound = "secagg_bound";          // double: fixed-point bound B
}  // namespace secagg_keys

// True when `config` asks for secure aggregation.
bool secagg_requested(const Config& config);

// The fixed-point codec of a round from its config (bound B, summands m), checked.
FixedPointCodec secagg_codec(const Config& config);

// The bound a round uses: an update clipped to L2 norm `clip` has every coordinate within it;
// distributed noise of stddev `client_noise_stddev` adds up to 6 of its stddevs (clamping beyond
// is post-processing).
double secagg_bound(double clip, double client_noise_stddev);

// Words per input for a model of `global`'s layout: its floating values + 1.
int64_t secagg_input_length(const Weights& global);

// local - global as words (throws on a layout mismatch or a non-finite value); `clamped`
// receives how many values lay beyond the codec's bound.
std::vector<uint32_t> encode_secagg_input(const Weights& global, const Weights& local,
                                          const FixedPointCodec& codec, bool unclipped,
                                          int64_t* clamped = nullptr);

// The sum of the inputs as an update in `global`'s layout (floating tensors: the decoded sums;
// integer tensors: zeros) and the count of unclipped updates.
Weights decode_secagg_sum(const Weights& global, const std::vector<uint32_t>& words,
                          const FixedPointCodec& codec, int64_t* unclipped);

}  // namespace fedsign::fl::privacy
