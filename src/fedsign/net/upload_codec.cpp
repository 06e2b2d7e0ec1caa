#include "fedsign/net/upload_codec.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "fedsign/core/check.h"
#include "fedsign/fl/compress/quantize.h"
#include "fedsign/fl/update.h"

namespace fedsign::net {

void request_upload_codec(const fl::compress::CompressOptions& options, fl::Config& config) {
  fl::compress::validate(options);
  if (options.codec == "none") return;
  FEDSIGN_CHECK(options.codec == "int8",
                "--compress {} is simulation-only: over the network int8 is available", options.codec);
  config[kCompressKey] = options.codec;
  config[kCompressPerChannelKey] = options.per_channel;
}

std::optional<fl::compress::CompressOptions> requested_upload_codec(const fl::Config& config) {
  const std::string codec = fl::get_string(config, kCompressKey, "none");
  if (codec == "none") return std::nullopt;
  FEDSIGN_CHECK(codec == "int8", "the server asks for uploads compressed as '{}', which this client "
                "does not know (int8)", codec);
  fl::compress::CompressOptions options;
  options.codec = codec;
  options.per_channel = fl::get_bool(config, kCompressPerChannelKey, false);
  return options;
}

WeightGroups encode_int8_upload(const fl::Weights& global, const fl::Weights& local,
                                bool per_channel, uint64_t seed) {
  fl::compress::Int8Options options;
  options.per_channel = per_channel;
  options.seed = seed;
  const fl::compress::QuantizedWeights q =
      fl::compress::quantize_int8(fl::model_delta(global, local), options);
  fl::Weights values, scales;
  for (std::size_t i = 0; i < q.tensors.size(); ++i) {
    values.names.push_back(q.names[i]);
    values.tensors.push_back(q.tensors[i].values);
    if (q.tensors[i].raw) continue;
    scales.names.push_back(q.names[i]);
    scales.tensors.push_back(q.tensors[i].scales.to(torch::kFloat32).contiguous());
  }
  return {{kInt8Group, std::move(values)}, {kInt8ScalesGroup, std::move(scales)}};
}

bool is_int8_upload(const WeightGroups& groups) { return groups.count(kInt8Group) > 0; }

Status decode_int8_upload(const fl::Weights& global, WeightGroups& groups, fl::Weights* weights) {
  const auto bad = [](std::string message) { return Status{Code::kInvalidArgument, std::move(message)}; };
  const auto values_it = groups.find(kInt8Group);
  if (values_it == groups.end()) return bad("not an int8 upload");
  const fl::Weights& values = values_it->second;
  fl::Weights no_scales;
  const auto scales_it = groups.find(kInt8ScalesGroup);
  const fl::Weights& scales = scales_it == groups.end() ? no_scales : scales_it->second;
  if (values.names != global.names) {
    return bad(fmt::format("int8 update: {} tensors, not the model's {} in its order",
                           values.size(), global.size()));
  }
  fl::compress::QuantizedWeights q;
  q.names = values.names;
  std::size_t next_scale = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const torch::Tensor& v = values.tensors[i];
    const torch::Tensor& g = global.tensors[i];
    const std::string& name = values.names[i];
    if (v.sizes() != g.sizes()) return bad(fmt::format("int8 update: tensor '{}' has another shape", name));
    fl::compress::QuantizedTensor t;
    t.values = v;
    t.dtype = g.scalar_type();
    if (!g.is_floating_point()) {
      // Integer tensors travel as their raw delta, in the model's dtype and without a scale.
      if (v.scalar_type() != g.scalar_type()) {
        return bad(fmt::format("int8 update: integer tensor '{}' must be sent raw", name));
      }
      t.raw = true;
    } else {
      if (v.scalar_type() != torch::kInt8) return bad(fmt::format("int8 update: tensor '{}' is not int8", name));
      if (next_scale >= scales.size() || scales.names[next_scale] != name) {
        return bad(fmt::format("int8 update: no scale for tensor '{}'", name));
      }
      t.scales = scales.tensors[next_scale++];
      const int64_t rows = t.scales.numel();
      if (t.scales.scalar_type() != torch::kFloat32 || t.scales.dim() != 1 ||
          (rows != 1 && (v.dim() < 2 || v.size(0) != rows))) {
        return bad(fmt::format("int8 update: tensor '{}' has {} scales", name, rows));
      }
      if (!torch::isfinite(t.scales).all().item<bool>() || (t.scales < 0).any().item<bool>()) {
        return bad(fmt::format("int8 update: tensor '{}' has a non-finite or negative scale", name));
      }
    }
    q.tensors.push_back(std::move(t));
  }
  if (next_scale != scales.size()) return bad("int8 update: scales for tensors it does not quantize");
  // Tensor by tensor (the simulation's dequantize + apply_delta, one tensor at a time): the server
  // holds one float32 delta at a time, not a whole model's, per concurrent upload.
  fl::Weights rebuilt;
  rebuilt.names = global.names;
  try {
    for (std::size_t i = 0; i < q.tensors.size(); ++i) {
      fl::compress::QuantizedWeights one;
      one.names = {q.names[i]};
      one.tensors = {std::move(q.tensors[i])};
      const fl::Weights tensor{{global.names[i]}, {global.tensors[i]}};
      rebuilt.tensors.push_back(fl::apply_delta(tensor, fl::compress::dequantize(one)).tensors[0]);
    }
  } catch (const fedsign::Error& e) {
    return bad(e.what());
  }
  *weights = std::move(rebuilt);
  groups.erase(kInt8Group);
  groups.erase(kInt8ScalesGroup);
  return Status::Ok();
}

}  // namespace fedsign::net
