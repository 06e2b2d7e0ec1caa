// 8-bit quantization of client-to-server updates (deltas from the global model): symmetric int8
// with one float32 scale per tensor, or per output channel (dim 0) of tensors of rank >= 2,
// s = max|x| / 127, q = round(x / s) in [-127, 127]. Rounding is stochastic by default,
// q = floor(x / s + u) with u ~ U[0, 1) drawn from the seed, which makes decode(encode(x)) an
// unbiased estimate of x (errors average out across clients instead of accumulating a bias);
// the error of each value is < s (stochastic) or <= s / 2 (nearest). Integer tensors are carried
// unchanged. About 4x fewer bytes than float32. Pure functions; thread-safe.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "fedsign/fl/weights.h"

namespace fedsign::fl::compress {

struct Int8Options {
  bool per_channel = false;
  bool stochastic = true;
  uint64_t seed = 0;  // stochastic rounding draws; same seed, same encoding
};

struct QuantizedTensor {
  torch::Tensor values;  // int8 in the tensor's shape, or the raw tensor when `raw`
  torch::Tensor scales;  // float32: 1 value per tensor, or size(0) values per channel
  bool raw = false;      // an integer tensor, not quantized
  c10::ScalarType dtype = torch::kFloat32;  // of the original tensor
  int64_t bytes() const;  // values + scales
};

struct QuantizedWeights {
  std::vector<std::string> names;
  std::vector<QuantizedTensor> tensors;
  int64_t bytes() const;
};

QuantizedWeights quantize_int8(const Weights& w, const Int8Options& options = {});
Weights dequantize(const QuantizedWeights& q);

// bf16 for server-to-client models: float tensors as bfloat16 (half the bytes; 8 bits of
// mantissa, relative error <= 2^-8), integer tensors unchanged. from_bf16 restores float32.
Weights to_bf16(const Weights& w);
Weights from_bf16(const Weights& w);

}  // namespace fedsign::fl::compress
