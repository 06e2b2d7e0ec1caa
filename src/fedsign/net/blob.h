// Weights on the wire: fedsign's one weights encoding (fl/weight_groups.h: TensorSpecs, a raw
// payload, an XXH3 checksum), cut into chunks of at most kMaxChunkBytes (far below gRPC's 4 MB
// message limit), with decoding errors as protocol Status values. Several weight sets travel
// in one blob as named groups ("weights", "control"). Pure functions, no gRPC.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fedsign/fl/weight_groups.h"
#include "fedsign/net/status.h"

namespace fedsign::net {

inline constexpr std::size_t kMaxChunkBytes = 1 << 20;
inline constexpr const char* kWeightsGroup = "weights";
inline constexpr const char* kControlGroup = "control";
// A secure-aggregation result: the masked words of the update, as one int32 tensor.
inline constexpr const char* kMaskedGroup = "masked";

using fl::DecodeLimits;
using fl::supported_dtype;
using fl::TensorSpec;
using fl::WeightGroups;

// A blob is the encoding's specs, payload (`bytes`) and checksum.
struct Blob {
  std::vector<TensorSpec> specs;
  std::string bytes;
  uint64_t checksum = 0;
};

Blob encode(const WeightGroups& groups);
uint64_t checksum(const std::string& bytes);

// fl::decode_weight_groups with its refusals as kResourceExhausted (limits) or kInvalidArgument.
Status decode(const std::vector<TensorSpec>& specs, const std::string& bytes, uint64_t checksum,
              const DecodeLimits& limits, WeightGroups* out);

// Before a receiver reserves memory for an announced blob: `total_bytes` must equal what the
// specs need, and stay within `max_bytes`. RESOURCE_EXHAUSTED / INVALID_ARGUMENT otherwise.
Status check_announced_size(const std::vector<TensorSpec>& specs, uint64_t total_bytes,
                            int64_t max_bytes);

}  // namespace fedsign::net
