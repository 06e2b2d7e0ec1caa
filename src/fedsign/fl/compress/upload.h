// A client's upload under a codec, as the simulation counts it: the update (local - global) is
// encoded (int8 quantization or top-k with error feedback, quantize.h / topk.h), its bytes on the
// wire are counted, and the server's view of the client's model is global + decode(encoded). The
// codec is lossy, so the server aggregates exactly what it would have received.
//
// Bytes on the wire: "none" sends the model itself as float32 (what the network client sends),
// the codecs the encoded update (values + scales, or indices + values; integer tensors raw).
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fedsign/fl/weights.h"

namespace fedsign::fl::compress {

struct CompressOptions {
  std::string codec = "none";   // codec_names()
  double topk_fraction = 0.01;  // topk: share of each tensor's values sent, in (0, 1]
  int64_t topk_dense_up_to = 1024;  // topk: tensors of at most this many values are sent whole
  bool per_channel = false;     // int8: one scale per output channel instead of per tensor
  // topk on the network: positions as varint gaps (positions.h). False only towards a server
  // from before them, which reads int32 indices; the simulation counts the varint bytes.
  bool topk_varint_positions = true;
};

std::vector<std::string> codec_names();  // none, int8, topk
// Throws fedsign::Error naming the bad option.
void validate(const CompressOptions& options);
struct TopKRule;  // topk.h
TopKRule topk_rule(const CompressOptions& options);

struct Upload {
  Weights weights;    // what the server reconstructs: global + decoded update
  int64_t bytes = 0;  // on the wire
  Weights residual;   // topk: what was left out, for the client's next upload (else empty)
};

// `local` as the client would send it after training from `global`. `residual` is the client's
// error-feedback carry-over from its previous upload (topk; empty: none yet); `seed` drives
// int8's stochastic rounding.
Upload encode_upload(const CompressOptions& options, const Weights& global, const Weights& local,
                     const Weights& residual, uint64_t seed);

}  // namespace fedsign::fl::compress
