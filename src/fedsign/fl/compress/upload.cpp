#include "fedsign/fl/compress/upload.h"

#include <algorithm>

#include "fedsign/core/check.h"
#include "fedsign/fl/compress/quantize.h"
#include "fedsign/fl/compress/topk.h"
#include "fedsign/fl/update.h"

namespace fedsign::fl::compress {

std::vector<std::string> codec_names() { return {"none", "int8", "topk"}; }

void validate(const CompressOptions& o) {
  const auto names = codec_names();
  FEDSIGN_CHECK(std::find(names.begin(), names.end(), o.codec) != names.end(),
                "unknown --compress '{}' (one of none, int8, topk)", o.codec);
  FEDSIGN_CHECK(o.topk_fraction > 0 && o.topk_fraction <= 1, "--topk-fraction {} not in (0, 1]",
                o.topk_fraction);
  FEDSIGN_CHECK(o.topk_dense_up_to >= 0, "--topk-dense-up-to {} is negative", o.topk_dense_up_to);
}

TopKRule topk_rule(const CompressOptions& o) { return {o.topk_fraction, o.topk_dense_up_to}; }

Upload encode_upload(const CompressOptions& o, const Weights& global, const Weights& local,
                     const Weights& residual, uint64_t seed) {
  validate(o);
  Upload out;
  if (o.codec == "none") {
    out.weights = local;
    out.bytes = local.bytes();
    return out;
  }
  const Weights delta = model_delta(global, local);
  if (o.codec == "int8") {
    Int8Options int8;
    int8.per_channel = o.per_channel;
    int8.seed = seed;
    const QuantizedWeights q = quantize_int8(delta, int8);
    out.bytes = q.bytes();
    out.weights = apply_delta(global, dequantize(q));
    return out;
  }
  TopKResult top = topk_compress(delta, topk_rule(o), residual);
  out.bytes = top.sparse.bytes();
  out.weights = apply_delta(global, densify(top.sparse));
  out.residual = std::move(top.residual);
  return out;
}

}  // namespace fedsign::fl::compress
