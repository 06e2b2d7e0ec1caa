// Compressed FIT uploads on the wire (issue 14): the server asks for them in each FIT task's
// config ("compress" = "int8", "compress_per_channel"), the client sends its update
// (local - global) quantized to int8 as two weight groups instead of the float32 model:
//   "int8"         the quantized values (int8, the tensor's shape; integer tensors such as
//                  BatchNorm's batch counter as their raw delta),
//   "int8_scales"  one float32 scale vector per quantized tensor (1 value, or one per channel),
// and the server rebuilds global + decode(update) against the global of the task, then checks
// it like any update. The arithmetic is fl::compress's (quantize.h), so a networked round sees
// exactly the simulation's reconstruction for the same seed. A server that did not ask still
// accepts a plain upload; a client that was not asked sends one.
// Top-k is simulation-only: its error feedback needs a per-client residual the network client
// does not keep across restarts yet, and the server refuses `--compress topk`.
#pragma once

#include <cstdint>
#include <optional>

#include "fedsign/fl/compress/upload.h"
#include "fedsign/fl/messages.h"
#include "fedsign/net/blob.h"
#include "fedsign/net/status.h"

namespace fedsign::net {

inline constexpr const char* kInt8Group = "int8";
inline constexpr const char* kInt8ScalesGroup = "int8_scales";
inline constexpr const char* kCompressKey = "compress";
inline constexpr const char* kCompressPerChannelKey = "compress_per_channel";

// Adds the server's request for compressed uploads to a FIT task's config ("none": nothing).
void request_upload_codec(const fl::compress::CompressOptions& options, fl::Config& config);
// What a FIT task's config asks for (nullopt: a plain float32 upload).
std::optional<fl::compress::CompressOptions> requested_upload_codec(const fl::Config& config);

// The client's upload groups for `local`, trained from `global`; `seed` drives the stochastic
// rounding (fl::compress::encode_upload's seed gives the same values).
WeightGroups encode_int8_upload(const fl::Weights& global, const fl::Weights& local,
                                bool per_channel, uint64_t seed);

// Whether `groups` hold an int8 upload.
bool is_int8_upload(const WeightGroups& groups);

// The server's reconstruction global + decode(int8 groups), into *weights; removes the two
// groups from `groups`. INVALID_ARGUMENT (nothing written) when a tensor is missing, extra, of
// another shape, not int8 where it must be, or with scales that are not finite and >= 0.
Status decode_int8_upload(const fl::Weights& global, WeightGroups& groups, fl::Weights* weights);

}  // namespace fedsign::net
