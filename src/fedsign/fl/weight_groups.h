// Named groups of Weights plus a JSON string in one file, written atomically: the format of
// server checkpoints (server_checkpoint.h) and of simulated clients' state files (client_state.h).
//
// Layout (format "fedsign-weight-groups-2"): the 8 magic bytes "FSWGRP02", the header's length
// (uint64, little-endian), a JSON header {format, meta, groups: [{key, tensors: [{name, dtype,
// shape}]}], payload_bytes, checksum (core/hash.h over all tensor bytes)}, then every tensor's
// raw little-endian bytes in header order. A simulated SCAFFOLD client reads and writes one such
// file per round, so it is built for speed: one pass to hash, one write per tensor, reads
// straight into the tensors' memory.
// (The earlier format, a pickled Dict[str, Tensor] in PyTorch's zip container, took 6 ms to
// save and 4 ms to load a compact-CNN state, about 40% of SCAFFOLD's simulation overhead; it is
// still read, so runs written before can be resumed.)
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "fedsign/fl/weights.h"

namespace fedsign::fl {

void save_weight_groups(const std::filesystem::path& file, const std::string& meta_json,
                        const std::vector<std::pair<std::string, const Weights*>>& groups);

// The meta JSON and the groups by key. Throws fedsign::Error naming the file if it is missing,
// truncated, corrupt (checksum) or of another format.
std::pair<std::string, std::map<std::string, Weights>> load_weight_groups(
    const std::filesystem::path& file);

}  // namespace fedsign::fl
