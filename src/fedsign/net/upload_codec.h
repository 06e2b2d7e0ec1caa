// Compressed FIT uploads on the wire (issue 14): the server asks for them in each FIT task's
// config ("compress" = "int8" with "compress_per_channel", or "topk" with
// "compress_topk_fraction" and "compress_topk_dense_up_to"), and the client sends its update (local - global) encoded, as two
// weight groups instead of the float32 model:
//   int8:  "int8"          the quantized values (int8, the tensor's shape),
//          "int8_scales"   one float32 scale vector per quantized tensor (1 value, or one per
//                          channel);
//   topk:  "topk"            per tensor its k largest values (float32, 1-D),
//          "topk_positions"  their positions in the flattened tensor as varint gaps (uint8,
//                            1-D; fl/compress/positions.h), when the task asks for them
//                            ("compress_topk_positions" = "varint"), else
//          "topk_indices"    the positions as int32 (1-D, k), as before the varint gaps;
// integer tensors (BatchNorm's batch counter) and, for top-k, BatchNorm's running statistics
// and the tensors small enough to go whole (TopKRule) travel in the first group as their raw
// delta. The server rebuilds global + decode(update)
// against the global of the task, then checks it like any update. The arithmetic is
// fl::compress's (quantize.h, topk.h), so a networked round sees exactly the simulation's
// reconstruction. Top-k's error feedback lives in the client's state (fl::ClientState::residual,
// in its --state-file across restarts, for one federation run). A server that did not ask still
// accepts a plain or int8 upload, not a top-k one (it bounds k by what it asked for); a client
// that was not asked sends a plain one. A server takes either form of the positions, so clients
// from before the varint gaps keep working.
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
inline constexpr const char* kTopKGroup = "topk";
inline constexpr const char* kTopKIndicesGroup = "topk_indices";
inline constexpr const char* kTopKPositionsGroup = "topk_positions";
// "varint" (the only value): send kTopKPositionsGroup. Absent (a server before it): int32 indices.
inline constexpr const char* kCompressTopKPositionsKey = "compress_topk_positions";
inline constexpr const char* kCompressTopKFractionKey = "compress_topk_fraction";
// Absent (a server before it): 0, every floating tensor but running statistics sparsified.
inline constexpr const char* kCompressTopKDenseUpToKey = "compress_topk_dense_up_to";

// Adds the server's request for compressed uploads to a FIT task's config ("none": nothing).
void request_upload_codec(const fl::compress::CompressOptions& options, fl::Config& config);
// What a FIT task's config asks for (nullopt: a plain float32 upload).
std::optional<fl::compress::CompressOptions> requested_upload_codec(const fl::Config& config);

// The client's upload groups for `local`, trained from `global`; `seed` drives the stochastic
// rounding (fl::compress::encode_upload's seed gives the same values).
WeightGroups encode_int8_upload(const fl::Weights& global, const fl::Weights& local,
                                bool per_channel, uint64_t seed);

// The client's top-k upload of `local`, trained from `global`, with `residual` (what its earlier
// uploads left out, at this round's rate; empty: none) added first; `residual` becomes what this
// one leaves out. Positions as varint gaps, or as int32 for a server before them.
WeightGroups encode_topk_upload(const fl::Weights& global, const fl::Weights& local,
                                const fl::compress::TopKRule& rule, fl::Weights& residual,
                                bool varint_positions = true);

// The upload the server asked for (`codec`, from requested_upload_codec) of `local`, trained
// from `global` in a round with local learning rate `lr` (FIT config "lr"; 0: none). Top-k reads
// and replaces `residual`, kept per unit of the learning rate (fl::compress::FeedbackRate).
WeightGroups encode_requested_upload(const fl::compress::CompressOptions& codec,
                                     const fl::Weights& global, const fl::Weights& local,
                                     double lr, std::optional<fl::Weights>& residual,
                                     uint64_t seed);

// Whether `groups` hold an int8 or a top-k upload.
bool is_int8_upload(const WeightGroups& groups);
bool is_topk_upload(const WeightGroups& groups);
bool is_compressed_upload(const WeightGroups& groups);

// The server's reconstruction global + decode(int8 groups), into *weights; removes the two
// groups from `groups`. INVALID_ARGUMENT (nothing written) when a tensor is missing, extra, of
// another shape, not int8 where it must be, or with scales that are not finite and >= 0.
Status decode_int8_upload(const fl::Weights& global, WeightGroups& groups, fl::Weights* weights);

// The same for a top-k upload. INVALID_ARGUMENT also when a tensor sends more values than
// `rule` allows, a position lies outside its tensor or repeats, its varint bytes are cut short,
// overlong or left over, both forms of positions arrive, or a tensor the rule does not sparsify
// (running statistic, integer, small) is not sent whole.
Status decode_topk_upload(const fl::Weights& global, const fl::compress::TopKRule& rule,
                          WeightGroups& groups, fl::Weights* weights);

// The server's side for a task whose FIT config is `config`: decodes an int8 or top-k upload
// (top-k only if the task asked for it, bounded by its rule).
Status decode_upload(const fl::Weights& global, const fl::Config& config, WeightGroups& groups,
                     fl::Weights* weights);

}  // namespace fedsign::net
