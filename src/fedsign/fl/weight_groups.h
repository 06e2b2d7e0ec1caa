// Named groups of Weights ("global", "strategy/m", "weights", "control" ...) in fedsign's one
// weights encoding, used in two containers:
//   * on the wire (net/): the TensorSpecs travel in the protocol's header, the payload in chunks;
//   * in files: server checkpoints (run/server_checkpoint.h) and simulated clients' state files
//     (client/client_state.h), written atomically.
// The encoding: every tensor's raw little-endian C-contiguous bytes one after another in spec
// order (groups in key order), described by TensorSpecs (group, name, dtype, shape) and
// protected by a 64-bit XXH3 checksum of the payload (core/hash.h).
// File layout (format "fedsign-weight-groups-2"): the 8 magic bytes "FSWGRP02", the header's
// length (uint64, little-endian), a JSON header {format, meta, groups: [{key, tensors: [{name,
// dtype, shape}]}], payload_bytes, checksum}, then the payload. A simulated SCAFFOLD client
// reads and writes one such file per round, so it is built for speed: one pass to hash, one
// write per tensor, reads straight into the tensors' memory.
// (The earlier file format, a pickled Dict[str, Tensor] in PyTorch's zip container, took 6 ms
// to save and 4 ms to load a compact-CNN state; it is still read, so old runs can be resumed.)
#pragma once

#include <c10/core/ScalarType.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fedsign/core/atomic_file.h"
#include "fedsign/fl/weights.h"

namespace fedsign::fl {

using WeightGroups = std::map<std::string, Weights>;

struct TensorSpec {
  std::string group;
  std::string name;
  c10::ScalarType dtype = c10::ScalarType::Float;
  std::vector<int64_t> shape;
  int64_t bytes() const;
};

// The dtypes the encoding carries (float32/64, bfloat16, float16, int64, int32, uint8, bool)
// and their names in file headers.
bool supported_dtype(c10::ScalarType dtype);
std::string dtype_name(c10::ScalarType dtype);  // throws fedsign::Error for an unsupported one

struct EncodedWeights {
  std::vector<TensorSpec> specs;
  std::string payload;
  uint64_t checksum = 0;
};

EncodedWeights encode_weight_groups(const WeightGroups& groups);
uint64_t payload_checksum(const std::string& payload);

struct DecodeLimits {
  int64_t max_bytes = int64_t{1} << 33;  // total payload size
  int64_t max_tensors = 100000;
};

// Why a payload was refused: too large for the limits, or malformed (sizes, dtypes, checksum).
enum class DecodeError { kNone, kTooLarge, kInvalid };

// Checks the payload size against the specs, the checksum and the limits, then copies the data
// into new tensors. Unsupported dtypes, negative dimensions and overflows are refused; `why`
// says what (without the source, which the caller names).
DecodeError decode_weight_groups(const std::vector<TensorSpec>& specs, const std::string& payload,
                                 uint64_t checksum, const DecodeLimits& limits, WeightGroups* out,
                                 std::string* why);

// The file container.
void save_weight_groups(const std::filesystem::path& file, const std::string& meta_json,
                        const std::vector<std::pair<std::string, const Weights*>>& groups,
                        const AtomicWriteOptions& options = {});

// The meta JSON and the groups by key. Throws fedsign::Error naming the file if it is missing,
// truncated, corrupt (checksum) or of another format.
std::pair<std::string, std::map<std::string, Weights>> load_weight_groups(
    const std::filesystem::path& file);

}  // namespace fedsign::fl
