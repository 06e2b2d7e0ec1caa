#include "fedsign/fl/compress/upload.h"

#include <algorithm>

#include "fedsign/core/check.h"
#include "fedsign/fl/compress/quantize.h"
#include "fedsign/fl/compress/topk.h"

namespace fedsign::fl::compress {

std::vector<std::string> codec_names() { return {"none", "int8", "topk"}; }

void validate(const CompressOptions& o) {
  const auto names = codec_names();
  FEDSIGN_CHECK(std::find(names.begin(), names.end(), o.codec) != names.end(),
                "unknown --compress '{}' (one of none, int8, topk)", o.codec);
  FEDSIGN_CHECK(o.topk_fraction > 0 && o.topk_fraction <= 1, "--topk-fraction {} not in (0, 1]",
                o.topk_fraction);
}

namespace {

// global + delta for the floating tensors; integer tensors (counters) are sent raw, so the
// decoded "delta" of one is already the client's value.
Weights apply_update(const Weights& global, const Weights& delta) {
  check_same_layout(global, delta, "decoded update");
  Weights out;
  out.names = global.names;
  for (std::size_t i = 0; i < global.size(); ++i) {
    const torch::Tensor& g = global.tensors[i];
    out.tensors.push_back(g.is_floating_point()
                              ? (g + delta.tensors[i].to(g.scalar_type())).contiguous()
                              : delta.tensors[i]);
  }
  return out;
}

// local - global for the floating tensors, local's integer tensors as they are.
Weights update_of(const Weights& global, const Weights& local) {
  check_same_layout(global, local, "client update");
  Weights out;
  out.names = local.names;
  for (std::size_t i = 0; i < local.size(); ++i) {
    const torch::Tensor& w = local.tensors[i];
    out.tensors.push_back(w.is_floating_point() ? w - global.tensors[i] : w);
  }
  return out;
}

}  // namespace

Upload encode_upload(const CompressOptions& o, const Weights& global, const Weights& local,
                     const Weights& residual, uint64_t seed) {
  validate(o);
  Upload out;
  if (o.codec == "none") {
    out.weights = local;
    out.bytes = local.bytes();
    return out;
  }
  const Weights delta = update_of(global, local);
  if (o.codec == "int8") {
    Int8Options int8;
    int8.per_channel = o.per_channel;
    int8.seed = seed;
    const QuantizedWeights q = quantize_int8(delta, int8);
    out.bytes = q.bytes();
    out.weights = apply_update(global, dequantize(q));
    return out;
  }
  TopKResult top = topk_compress(delta, o.topk_fraction, residual);
  out.bytes = top.sparse.bytes();
  out.weights = apply_update(global, densify(top.sparse));
  out.residual = std::move(top.residual);
  return out;
}

}  // namespace fedsign::fl::compress
