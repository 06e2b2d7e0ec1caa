#include "fedsign/net/upload_codec.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include "fedsign/core/check.h"
#include "fedsign/fl/compress/positions.h"
#include "fedsign/fl/compress/quantize.h"
#include "fedsign/fl/compress/topk.h"
#include "fedsign/fl/update.h"

namespace fedsign::net {

namespace {

Status bad(std::string message) { return {Code::kInvalidArgument, std::move(message)}; }

// global + decode_one(i) tensor by tensor (the simulation's decode + apply_delta, one tensor at
// a time): the server holds one float32 delta at a time, not a whole model's, per concurrent
// upload. decode_one(i) returns tensor i's delta as a one-tensor Weights.
template <typename DecodeOne>
Status rebuild(const fl::Weights& global, DecodeOne decode_one, fl::Weights* weights) {
  fl::Weights rebuilt;
  rebuilt.names = global.names;
  try {
    for (std::size_t i = 0; i < global.size(); ++i) {
      const fl::Weights tensor{{global.names[i]}, {global.tensors[i]}};
      rebuilt.tensors.push_back(fl::apply_delta(tensor, decode_one(i)).tensors[0]);
    }
  } catch (const fedsign::Error& e) {
    return bad(e.what());
  }
  *weights = std::move(rebuilt);
  return Status::Ok();
}

// A compressed upload's two groups: `main` holds a tensor per model tensor, in the model's
// order; `aux` (scales, indices) may be absent when nothing needs it.
struct UploadLayout {
  const char* main;
  const char* aux;
  const char* codec;  // for messages
};

Status upload_groups(const fl::Weights& global, const WeightGroups& groups,
                     const UploadLayout& layout, const fl::Weights** main, const fl::Weights** aux) {
  static const fl::Weights kNone;
  const auto main_it = groups.find(layout.main);
  if (main_it == groups.end()) return bad(fmt::format("no '{}' group: not an upload of this codec", layout.main));
  if (main_it->second.names != global.names) {
    return bad(fmt::format("{} update: {} tensors, not the model's {} in its order", layout.codec,
                           main_it->second.size(), global.size()));
  }
  const auto aux_it = groups.find(layout.aux);
  *main = &main_it->second;
  *aux = aux_it == groups.end() ? &kNone : &aux_it->second;
  return Status::Ok();
}

// Positions as int32 indices, as clients before the varint gaps send them: any order, so the
// bounds and repeats are checked on a sorted copy.
Status check_int32_indices(const torch::Tensor& indices, int64_t count, int64_t numel,
                           const std::string& name) {
  if (indices.scalar_type() != torch::kInt32 || indices.dim() != 1 || indices.numel() != count) {
    return bad(fmt::format("top-k update: tensor '{}' needs as many int32 indices as float32 "
                           "values", name));
  }
  if (count == 0) return Status::Ok();
  const torch::Tensor sorted = std::get<0>(indices.sort());
  if (sorted[0].item<int32_t>() < 0 || sorted[-1].item<int32_t>() >= numel) {
    return bad(fmt::format("top-k update: an index of tensor '{}' is outside its {} values", name,
                           numel));
  }
  if (count > 1 && sorted.slice(0, 1).eq(sorted.slice(0, 0, -1)).any().item<bool>()) {
    return bad(fmt::format("top-k update: tensor '{}' sends an index twice", name));
  }
  return Status::Ok();
}

}  // namespace

void request_upload_codec(const fl::compress::CompressOptions& options, fl::Config& config) {
  fl::compress::validate(options);
  if (options.codec == "none") return;
  config[kCompressKey] = options.codec;
  if (options.codec == "int8") config[kCompressPerChannelKey] = options.per_channel;
  if (options.codec == "topk") {
    config[kCompressTopKFractionKey] = options.topk_fraction;
    config[kCompressTopKDenseUpToKey] = options.topk_dense_up_to;
    if (options.topk_varint_positions) config[kCompressTopKPositionsKey] = std::string("varint");
  }
}

std::optional<fl::compress::CompressOptions> requested_upload_codec(const fl::Config& config) {
  fl::compress::CompressOptions options;
  options.codec = fl::get_string(config, kCompressKey, "none");
  if (options.codec == "none") return std::nullopt;
  FEDSIGN_CHECK(options.codec == "int8" || options.codec == "topk",
                "the server asks for uploads compressed as '{}', which this client does not know "
                "(int8, topk)", options.codec);
  options.per_channel = fl::get_bool(config, kCompressPerChannelKey, false);
  options.topk_fraction = fl::get_double(config, kCompressTopKFractionKey, options.topk_fraction);
  options.topk_dense_up_to = fl::get_int(config, kCompressTopKDenseUpToKey, 0);
  const std::string positions = fl::get_string(config, kCompressTopKPositionsKey, "int32");
  FEDSIGN_CHECK(positions == "varint" || positions == "int32",
                "the server asks for top-k positions as '{}', which this client does not know "
                "(varint, int32)", positions);
  options.topk_varint_positions = positions == "varint";
  fl::compress::validate(options);
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

WeightGroups encode_topk_upload(const fl::Weights& global, const fl::Weights& local,
                                const fl::compress::TopKRule& rule, fl::Weights& residual,
                                bool varint_positions) {
  fl::compress::TopKResult top =
      fl::compress::topk_compress(fl::model_delta(global, local), rule, residual);
  fl::Weights values, indices;
  for (std::size_t i = 0; i < top.sparse.tensors.size(); ++i) {
    const fl::compress::SparseTensor& t = top.sparse.tensors[i];
    values.names.push_back(top.sparse.names[i]);
    values.tensors.push_back(t.values);
    if (t.raw) continue;
    indices.names.push_back(top.sparse.names[i]);
    indices.tensors.push_back(varint_positions ? fl::compress::encode_positions(t.indices)
                                               : t.indices);
  }
  residual = std::move(top.residual);
  return {{kTopKGroup, std::move(values)},
          {varint_positions ? kTopKPositionsGroup : kTopKIndicesGroup, std::move(indices)}};
}

WeightGroups encode_requested_upload(const fl::compress::CompressOptions& codec,
                                     const fl::Weights& global, const fl::Weights& local,
                                     double lr, std::optional<fl::Weights>& residual,
                                     uint64_t seed) {
  if (codec.codec == "int8") return encode_int8_upload(global, local, codec.per_channel, seed);
  FEDSIGN_CHECK(codec.codec == "topk", "no upload encoding '{}'", codec.codec);
  const fl::compress::FeedbackRate rate(lr);
  fl::Weights carried = rate.rejoin(residual);
  WeightGroups groups = encode_topk_upload(global, local, fl::compress::topk_rule(codec), carried,
                                           codec.topk_varint_positions);
  residual = rate.keep(carried);
  return groups;
}

bool is_int8_upload(const WeightGroups& groups) { return groups.count(kInt8Group) > 0; }
bool is_topk_upload(const WeightGroups& groups) { return groups.count(kTopKGroup) > 0; }
bool is_compressed_upload(const WeightGroups& groups) {
  return is_int8_upload(groups) || is_topk_upload(groups);
}

Status decode_int8_upload(const fl::Weights& global, WeightGroups& groups, fl::Weights* weights) {
  const fl::Weights* values_group = nullptr;
  const fl::Weights* scales_group = nullptr;
  if (Status s = upload_groups(global, groups, {kInt8Group, kInt8ScalesGroup, "int8"},
                               &values_group, &scales_group);
      !s.ok()) {
    return s;
  }
  const fl::Weights& values = *values_group;
  const fl::Weights& scales = *scales_group;
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
  const Status s = rebuild(global, [&](std::size_t i) {
    fl::compress::QuantizedWeights one;
    one.names = {q.names[i]};
    one.tensors = {std::move(q.tensors[i])};
    return fl::compress::dequantize(one);
  }, weights);
  if (!s.ok()) return s;
  groups.erase(kInt8Group);
  groups.erase(kInt8ScalesGroup);
  return Status::Ok();
}

Status decode_topk_upload(const fl::Weights& global, const fl::compress::TopKRule& rule,
                          WeightGroups& groups, fl::Weights* weights) {
  const bool varint = groups.count(kTopKPositionsGroup) > 0;
  if (varint && groups.count(kTopKIndicesGroup) > 0) {
    return bad("top-k update: both int32 indices and varint positions");
  }
  const fl::Weights* values_group = nullptr;
  const fl::Weights* indices_group = nullptr;
  if (Status s = upload_groups(global, groups,
                               {kTopKGroup, varint ? kTopKPositionsGroup : kTopKIndicesGroup, "top-k"},
                               &values_group, &indices_group);
      !s.ok()) {
    return s;
  }
  const fl::Weights& values = *values_group;
  const fl::Weights& indices = *indices_group;
  fl::compress::SparseWeights sparse;
  sparse.names = values.names;
  std::size_t next_index = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const torch::Tensor& v = values.tensors[i];
    const torch::Tensor& g = global.tensors[i];
    const std::string& name = values.names[i];
    fl::compress::SparseTensor t;
    t.shape = g.sizes().vec();
    t.dtype = g.scalar_type();
    t.values = v;
    if (!rule.sparsifies(name, g.is_floating_point(), g.numel())) {
      // Sent whole, as its raw delta (topk.h).
      if (v.sizes() != g.sizes() || v.scalar_type() != g.scalar_type()) {
        return bad(fmt::format("top-k update: tensor '{}' must be sent whole", name));
      }
      t.raw = true;
      sparse.tensors.push_back(std::move(t));
      continue;
    }
    if (next_index >= indices.size() || indices.names[next_index] != name) {
      return bad(fmt::format("top-k update: no positions for tensor '{}'", name));
    }
    if (v.scalar_type() != torch::kFloat32 || v.dim() != 1) {
      return bad(fmt::format("top-k update: tensor '{}' needs 1-D float32 values", name));
    }
    if (const int64_t asked = rule.count(g.numel()); v.numel() > asked) {
      return bad(fmt::format("top-k update: tensor '{}' sends {} values, more than the {} asked for",
                             name, v.numel(), asked));
    }
    const torch::Tensor& sent = indices.tensors[next_index++];
    if (varint) {
      try {
        t.indices = fl::compress::decode_positions(sent, v.numel(), g.numel(), name);
      } catch (const fedsign::Error& e) {
        return bad(e.what());
      }
    } else if (Status s = check_int32_indices(sent, v.numel(), g.numel(), name); !s.ok()) {
      return s;
    } else {
      t.indices = sent;
    }
    sparse.tensors.push_back(std::move(t));
  }
  if (next_index != indices.size()) return bad("top-k update: positions for tensors it does not sparsify");
  const Status s = rebuild(global, [&](std::size_t i) {
    fl::compress::SparseWeights one;
    one.names = {sparse.names[i]};
    one.tensors = {std::move(sparse.tensors[i])};
    return fl::compress::densify(one);
  }, weights);
  if (!s.ok()) return s;
  groups.erase(kTopKGroup);
  groups.erase(kTopKIndicesGroup);
  groups.erase(kTopKPositionsGroup);
  return Status::Ok();
}

Status decode_upload(const fl::Weights& global, const fl::Config& config, WeightGroups& groups,
                     fl::Weights* weights) {
  if (is_int8_upload(groups)) return decode_int8_upload(global, groups, weights);
  fl::compress::CompressOptions asked;
  try {
    if (auto requested = requested_upload_codec(config)) asked = *requested;
  } catch (const fedsign::Error& e) {
    return bad(e.what());
  }
  if (asked.codec != "topk") return bad("a top-k update the task did not ask for");
  return decode_topk_upload(global, fl::compress::topk_rule(asked), groups, weights);
}

}  // namespace fedsign::net
