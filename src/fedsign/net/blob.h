// Weights as one byte blob for the wire and the server checkpoint: raw C-contiguous tensor data
// one after another, described by TensorSpecs, protected by a 64-bit XXH3 checksum, cut into
// chunks of at most kMaxChunkBytes (far below gRPC's 4 MB message limit). Several weight sets
// travel in one blob as named groups ("weights", "control"). Pure functions, no gRPC.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fedsign/fl/weights.h"
#include "fedsign/net/status.h"

namespace fedsign::net {

inline constexpr std::size_t kMaxChunkBytes = 1 << 20;
inline constexpr const char* kWeightsGroup = "weights";
inline constexpr const char* kControlGroup = "control";

struct TensorSpec {
  std::string group;
  std::string name;
  c10::ScalarType dtype = c10::ScalarType::Float;
  std::vector<int64_t> shape;
  int64_t bytes() const;
};

struct Blob {
  std::vector<TensorSpec> specs;
  std::string bytes;
  uint64_t checksum = 0;
};

// Weight sets by group name (std::map: groups in name order).
using WeightGroups = std::map<std::string, fl::Weights>;

Blob encode(const WeightGroups& groups);
uint64_t checksum(const std::string& bytes);

struct DecodeLimits {
  int64_t max_bytes = int64_t{1} << 33;  // total blob size
  int64_t max_tensors = 100000;
};

// Checks total size against the specs, the checksum and the limits, then copies the data into
// new tensors. Unsupported dtypes, negative dimensions and overflows are rejected.
Status decode(const std::vector<TensorSpec>& specs, const std::string& bytes, uint64_t checksum,
              const DecodeLimits& limits, WeightGroups* out);

// Supported dtypes on the wire: float32/64, bfloat16, float16, int64, int32.
bool supported_dtype(c10::ScalarType dtype);

}  // namespace fedsign::net
