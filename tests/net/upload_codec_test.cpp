// Compressed uploads on the wire (net/upload_codec.h): the int8 and top-k groups survive the
// blob encoding, the server's reconstruction equals the simulation's
// (fl::compress::encode_upload) bit for bit (same seed; same residual), the blob carries the
// bytes the simulation counts (int8 about a quarter of float32, top-1% about a fiftieth), top-k
// positions travel as varint gaps and still meet peers that send or expect int32 indices, and
// malformed uploads are refused without writing anything.
#include "fedsign/net/upload_codec.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <optional>

#include "fedsign/core/check.h"
#include "fedsign/fl/compress/positions.h"
#include "fedsign/fl/compress/topk.h"
#include "fedsign/fl/weights.h"
#include "fedsign/models/registry.h"
#include "fedsign/net/wire.h"

namespace fedsign::net {
namespace {

struct Models {
  fl::Weights global, local;
};

Models trained_pair() {
  torch::manual_seed(11);
  Models m;
  m.global = fl::get_weights(*models::create_model("compact"));
  m.local = m.global;
  for (auto& t : m.local.tensors) {
    t = t.is_floating_point() ? t + 0.01 * torch::randn_like(t) : t + 3;  // batches counted
  }
  return m;
}

// The groups as the server receives them: through the blob encoding, its protobuf header (where
// each dtype needs a wire name) and back.
WeightGroups over_the_wire(const WeightGroups& groups, int64_t* blob_bytes) {
  const Blob blob = encode(groups);
  *blob_bytes = static_cast<int64_t>(blob.bytes.size());
  v1::BlobHeader header;
  to_proto(blob, &header);
  std::vector<TensorSpec> specs;
  const Status read = from_proto(header, &specs);
  EXPECT_TRUE(read.ok()) << read.to_string();
  WeightGroups received;
  const Status s = decode(specs, blob.bytes, blob.checksum, {}, &received);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return received;
}

TEST(UploadCodec, ServerRebuildsExactlyTheSimulationsUpload) {
  const Models m = trained_pair();
  for (const bool per_channel : {false, true}) {
    const uint64_t seed = 77;
    int64_t blob_bytes = 0;
    WeightGroups received =
        over_the_wire(encode_int8_upload(m.global, m.local, per_channel, seed), &blob_bytes);
    ASSERT_TRUE(is_int8_upload(received));
    fl::Weights rebuilt;
    const Status s = decode_int8_upload(m.global, received, &rebuilt);
    ASSERT_TRUE(s.ok()) << s.to_string();
    EXPECT_TRUE(received.empty()) << "the int8 groups are consumed";

    fl::compress::CompressOptions options;
    options.codec = "int8";
    options.per_channel = per_channel;
    const fl::compress::Upload simulated =
        fl::compress::encode_upload(options, m.global, m.local, {}, seed);
    ASSERT_EQ(rebuilt.names, simulated.weights.names);
    for (std::size_t i = 0; i < rebuilt.size(); ++i) {
      EXPECT_TRUE(torch::equal(rebuilt.tensors[i], simulated.weights.tensors[i]))
          << rebuilt.names[i] << (per_channel ? " (per channel)" : "");
    }
    // The simulation counts exactly the bytes the blob carries: about a quarter of float32.
    EXPECT_EQ(blob_bytes, simulated.bytes);
    EXPECT_LT(blob_bytes, m.local.bytes() / 3.9);
    // And the reconstruction is close to what the client trained (error < one step per value).
    for (std::size_t i = 0; i < rebuilt.size(); ++i) {
      if (!rebuilt.tensors[i].is_floating_point()) {
        EXPECT_TRUE(torch::equal(rebuilt.tensors[i], m.local.tensors[i])) << rebuilt.names[i];
        continue;
      }
      const double step = (m.local.tensors[i] - m.global.tensors[i]).abs().max().item<double>() / 127;
      EXPECT_LE((rebuilt.tensors[i] - m.local.tensors[i]).abs().max().item<double>(), step * 1.001 + 1e-7)
          << rebuilt.names[i];
    }
  }
}

TEST(UploadCodec, MalformedUploadsAreRefusedAndNothingIsWritten) {
  const Models m = trained_pair();
  const WeightGroups good = encode_int8_upload(m.global, m.local, false, 1);
  const fl::Weights untouched = fl::Weights{{"marker"}, {torch::ones({1})}};
  const auto refused = [&](WeightGroups groups, const std::string& expect) {
    fl::Weights out = untouched;
    const Status s = decode_int8_upload(m.global, groups, &out);
    EXPECT_EQ(s.code, Code::kInvalidArgument) << expect;
    EXPECT_NE(s.message.find(expect), std::string::npos) << s.message;
    EXPECT_EQ(out.names, untouched.names) << expect;
  };
  {
    WeightGroups g = good;
    g.erase(kInt8ScalesGroup);
    refused(g, "no scale for tensor");
  }
  {
    WeightGroups g = good;
    g[kInt8ScalesGroup].tensors[0] = torch::full({1}, std::nanf(""));
    refused(g, "non-finite or negative scale");
  }
  {
    WeightGroups g = good;
    g[kInt8ScalesGroup].tensors[0] = torch::full({1}, -1.0f);
    refused(g, "non-finite or negative scale");
  }
  {
    WeightGroups g = good;
    g[kInt8Group].tensors[0] = g[kInt8Group].tensors[0].to(torch::kFloat32);
    refused(g, "is not int8");
  }
  {
    WeightGroups g = good;
    g[kInt8Group].tensors[0] = torch::zeros({2, 2}, torch::kInt8);
    refused(g, "another shape");
  }
  {
    WeightGroups g = good;
    g[kInt8Group].names.pop_back();
    g[kInt8Group].tensors.pop_back();
    refused(g, "not the model's");
  }
  {
    WeightGroups g = good;
    g[kInt8ScalesGroup].tensors[0] = torch::ones({5});  // 5 scales for a per-tensor weight
    refused(g, "scales");
  }
}

TEST(UploadCodec, TheServerAsksForACodecAndTheClientReadsIt) {
  fl::compress::CompressOptions options;
  fl::Config config;
  request_upload_codec(options, config);  // none: nothing asked
  EXPECT_TRUE(config.empty());
  EXPECT_FALSE(requested_upload_codec(config).has_value());

  options.codec = "int8";
  options.per_channel = true;
  request_upload_codec(options, config);
  const auto asked = requested_upload_codec(config);
  ASSERT_TRUE(asked.has_value());
  EXPECT_EQ(asked->codec, "int8");
  EXPECT_TRUE(asked->per_channel);

  options.codec = "topk";
  options.topk_fraction = 0.05;
  options.topk_dense_up_to = 2048;
  fl::Config topk;
  request_upload_codec(options, topk);
  const auto asked_topk = requested_upload_codec(topk);
  ASSERT_TRUE(asked_topk.has_value());
  EXPECT_EQ(asked_topk->codec, "topk");
  EXPECT_DOUBLE_EQ(asked_topk->topk_fraction, 0.05);
  EXPECT_EQ(asked_topk->topk_dense_up_to, 2048);
  // A server that does not name the rule (before it existed) sparsifies every floating tensor.
  topk.erase(kCompressTopKDenseUpToKey);
  EXPECT_EQ(requested_upload_codec(topk)->topk_dense_up_to, 0);

  fl::Config unknown{{std::string(kCompressKey), std::string("zstd")}};
  EXPECT_THROW(requested_upload_codec(unknown), fedsign::Error);
  fl::Config too_much{{std::string(kCompressKey), std::string("topk")},
                      {std::string(kCompressTopKFractionKey), 2.0}};
  EXPECT_THROW(requested_upload_codec(too_much), fedsign::Error);
}

// Top-1% as `fl server --compress topk` asks for it by default: tensors of at most 1,024 values
// (the compact CNN's BatchNorm scales and shifts, first conv, head bias) go whole.
const fl::compress::CompressOptions kTopK{.codec = "topk", .topk_fraction = 0.01};

fl::Weights residual_of(const fl::Weights& global) {
  torch::manual_seed(5);
  const fl::compress::TopKRule rule = fl::compress::topk_rule(kTopK);
  fl::Weights r;
  for (std::size_t i = 0; i < global.size(); ++i) {
    const torch::Tensor& t = global.tensors[i];
    if (!rule.sparsifies(global.names[i], t.is_floating_point(), t.numel())) continue;
    r.names.push_back(global.names[i]);
    r.tensors.push_back(0.02 * torch::randn_like(t));
  }
  return r;
}

TEST(UploadCodec, ServerRebuildsExactlyTheSimulationsTopKUpload) {
  const Models m = trained_pair();
  const fl::Weights carried = residual_of(m.global);
  fl::Weights residual = carried;
  int64_t blob_bytes = 0;
  WeightGroups received = over_the_wire(
      encode_topk_upload(m.global, m.local, fl::compress::topk_rule(kTopK), residual), &blob_bytes);
  ASSERT_TRUE(is_topk_upload(received));
  // A BatchNorm scale (32 values) travels whole, without indices; the first conv (864) too.
  const auto& indexed = received.at(kTopKPositionsGroup).names;
  for (const std::string name : {"stage1.1.weight", "stage1.0.weight"}) {
    const auto it = std::find(m.global.names.begin(), m.global.names.end(), name);
    ASSERT_NE(it, m.global.names.end()) << name;
    const auto i = static_cast<std::size_t>(it - m.global.names.begin());
    EXPECT_EQ(received.at(kTopKGroup).tensors[i].numel(), m.global.tensors[i].numel()) << name;
    EXPECT_EQ(std::find(indexed.begin(), indexed.end(), name), indexed.end()) << name;
  }
  fl::Config asked;
  request_upload_codec(kTopK, asked);
  fl::Weights rebuilt;
  const Status s = decode_upload(m.global, asked, received, &rebuilt);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_TRUE(received.empty()) << "the top-k groups are consumed";

  const fl::compress::Upload simulated =
      fl::compress::encode_upload(kTopK, m.global, m.local, carried, 0);
  ASSERT_EQ(rebuilt.names, simulated.weights.names);
  for (std::size_t i = 0; i < rebuilt.size(); ++i) {
    EXPECT_TRUE(torch::equal(rebuilt.tensors[i], simulated.weights.tensors[i])) << rebuilt.names[i];
  }
  ASSERT_EQ(residual.names, simulated.residual.names);
  for (std::size_t i = 0; i < residual.size(); ++i) {
    EXPECT_TRUE(torch::equal(residual.tensors[i], simulated.residual.tensors[i])) << residual.names[i];
  }
  EXPECT_EQ(blob_bytes, simulated.bytes);
  EXPECT_LT(blob_bytes, m.local.bytes() / 30);
}

TEST(UploadCodec, TopKResidualIsKeptPerUnitOfTheRoundsLearningRate) {
  const Models m = trained_pair();
  const fl::compress::CompressOptions& topk = kTopK;
  std::optional<fl::Weights> kept;
  encode_requested_upload(topk, m.global, m.local, 0.1, kept, 0);
  ASSERT_TRUE(kept.has_value());
  // Round 2 at half the rate: the residual rejoins at 0.05 per unit, as the simulation's does.
  fl::Weights at_rate = fl::scale(*kept, 0.05);
  const WeightGroups groups =
      encode_topk_upload(m.global, m.local, fl::compress::topk_rule(topk), at_rate);
  std::optional<fl::Weights> second = kept;
  const WeightGroups same = encode_requested_upload(topk, m.global, m.local, 0.05, second, 0);
  for (const char* group : {kTopKGroup, kTopKPositionsGroup}) {
    const fl::Weights& a = groups.at(group);
    const fl::Weights& b = same.at(group);
    ASSERT_EQ(a.names, b.names);
    for (std::size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a.tensors[i], b.tensors[i])) << a.names[i];
  }
  const fl::Weights expected = fl::scale(at_rate, 1 / 0.05);
  ASSERT_TRUE(second.has_value());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_TRUE(torch::equal(second->tensors[i], expected.tensors[i])) << expected.names[i];
  }
}

// The refusals shared by both forms of positions, then each form's own.
TEST(UploadCodec, MalformedTopKUploadsAreRefusedAndNothingIsWritten) {
  const Models m = trained_pair();
  fl::Weights residual;
  const WeightGroups good =
      encode_topk_upload(m.global, m.local, fl::compress::topk_rule(kTopK), residual);
  fl::Weights legacy_residual;
  const WeightGroups legacy = encode_topk_upload(m.global, m.local, fl::compress::topk_rule(kTopK),
                                                 legacy_residual, /*varint_positions=*/false);
  fl::Config asked;
  request_upload_codec(kTopK, asked);
  const fl::Weights untouched = fl::Weights{{"marker"}, {torch::ones({1})}};
  const auto refused = [&](WeightGroups groups, const std::string& expect,
                           const fl::Config& config) {
    fl::Weights out = untouched;
    const Status s = decode_upload(m.global, config, groups, &out);
    EXPECT_EQ(s.code, Code::kInvalidArgument) << expect;
    EXPECT_NE(s.message.find(expect), std::string::npos) << s.message;
    EXPECT_EQ(out.names, untouched.names) << expect;
  };
  // The first sparsified tensor: the second convolution's weight (the first one goes whole).
  const auto& names = m.global.names;
  const auto sparsified = std::find(names.begin(), names.end(), good.at(kTopKPositionsGroup).names[0]);
  ASSERT_NE(sparsified, names.end());
  const auto first = static_cast<std::size_t>(sparsified - names.begin());
  ASSERT_EQ(names[first], "stage1.3.weight");
  const int64_t n = m.global.tensors[first].numel();
  const int64_t k = good.at(kTopKGroup).tensors[first].numel();
  const torch::Tensor positions =
      fl::compress::decode_positions(good.at(kTopKPositionsGroup).tensors[0], k, n, "x");
  refused(good, "did not ask", fl::Config{});
  {
    WeightGroups g = good;
    g.erase(kTopKPositionsGroup);
    refused(g, "no positions for tensor", asked);
  }
  {
    WeightGroups g = good;  // (the groups share their tensors with `good`: change a copy)
    torch::Tensor moved = positions.clone();
    moved[-1] = static_cast<int32_t>(n);
    g[kTopKPositionsGroup].tensors[0] = fl::compress::encode_positions(moved);
    refused(g, "outside its", asked);
  }
  {
    WeightGroups g = good;  // the last varint cut off
    const torch::Tensor& bytes = g[kTopKPositionsGroup].tensors[0];
    g[kTopKPositionsGroup].tensors[0] = bytes.slice(0, 0, bytes.numel() - 1).clone();
    refused(g, "positions of tensor 'stage1.3.weight' end after", asked);
  }
  {
    WeightGroups g = good;  // a byte more than the positions need
    g[kTopKPositionsGroup].tensors[0] =
        torch::cat({g[kTopKPositionsGroup].tensors[0], torch::zeros({1}, torch::kUInt8)});
    refused(g, "left over", asked);
  }
  {
    WeightGroups g = good;  // every value of the tensor: more than 1% of it
    g[kTopKGroup].tensors[first] = torch::zeros({n});
    g[kTopKPositionsGroup].tensors[0] = fl::compress::encode_positions(torch::arange(n, torch::kInt32));
    refused(g, "more than the", asked);
  }
  {
    WeightGroups g = good;
    g[kTopKPositionsGroup].tensors[0] = positions;  // int32 in the varint group
    refused(g, "not 1-D uint8", asked);
  }
  {
    WeightGroups g = good;
    g[kTopKGroup].names.pop_back();
    g[kTopKGroup].tensors.pop_back();
    refused(g, "not the model's", asked);
  }
  {
    WeightGroups g = good;  // a running statistic sent sparse
    const auto it = std::find_if(names.begin(), names.end(), fl::is_running_statistic);
    ASSERT_NE(it, names.end());
    g[kTopKGroup].tensors[static_cast<std::size_t>(it - names.begin())] = torch::zeros({1});
    refused(g, "must be sent whole", asked);
  }
  {
    WeightGroups g = good;  // a tensor small enough to go whole (the first conv) sent sparse
    g[kTopKGroup].tensors[0] = torch::zeros({9});
    g[kTopKPositionsGroup].names.insert(g[kTopKPositionsGroup].names.begin(), names[0]);
    g[kTopKPositionsGroup].tensors.insert(g[kTopKPositionsGroup].tensors.begin(),
                                          fl::compress::encode_positions(torch::arange(9)));
    refused(g, "must be sent whole", asked);
  }
  {
    WeightGroups g = good;  // both forms at once: which one counts would be the server's guess
    g[kTopKIndicesGroup] = legacy.at(kTopKIndicesGroup);
    refused(g, "both int32 indices and varint positions", asked);
  }
  // int32 indices, as clients before the varint gaps send them: in any order, so checked for
  // bounds and repeats.
  ASSERT_TRUE(torch::equal(legacy.at(kTopKIndicesGroup).tensors[0], positions));
  {
    WeightGroups g = legacy;
    torch::Tensor indices = positions.clone();
    indices[0] = static_cast<int32_t>(n);
    g[kTopKIndicesGroup].tensors[0] = indices;
    refused(g, "outside its", asked);
  }
  {
    WeightGroups g = legacy;
    torch::Tensor indices = positions.clone();
    indices[1] = indices[0].item<int32_t>();
    g[kTopKIndicesGroup].tensors[0] = indices;
    refused(g, "index twice", asked);
  }
  {
    WeightGroups g = legacy;
    g[kTopKIndicesGroup].tensors[0] = positions.to(torch::kFloat32);
    refused(g, "int32 indices", asked);
  }
}

// A server and a client from before the varint gaps each still meet one from after: the server
// asks for varint positions by name, a client not asked sends int32 indices, and the server
// takes either, rebuilding the same model.
TEST(UploadCodec, TopKPositionsMeetPeersFromBeforeTheVarintGaps) {
  const Models m = trained_pair();
  fl::Config asked;
  request_upload_codec(kTopK, asked);
  ASSERT_TRUE(requested_upload_codec(asked)->topk_varint_positions);
  fl::Config old_server = asked;
  old_server.erase(kCompressTopKPositionsKey);
  const auto old_codec = requested_upload_codec(old_server);
  ASSERT_TRUE(old_codec.has_value());
  EXPECT_FALSE(old_codec->topk_varint_positions);

  std::optional<fl::Weights> residual, legacy_residual;
  int64_t varint_bytes = 0, int32_bytes = 0;
  WeightGroups varint = over_the_wire(
      encode_requested_upload(*requested_upload_codec(asked), m.global, m.local, 0.1, residual, 0),
      &varint_bytes);
  WeightGroups int32 = over_the_wire(
      encode_requested_upload(*old_codec, m.global, m.local, 0.1, legacy_residual, 0), &int32_bytes);
  EXPECT_TRUE(varint.count(kTopKPositionsGroup) && !varint.count(kTopKIndicesGroup));
  EXPECT_TRUE(int32.count(kTopKIndicesGroup) && !int32.count(kTopKPositionsGroup));
  fl::Weights from_varint, from_int32;
  ASSERT_TRUE(decode_upload(m.global, asked, varint, &from_varint).ok());
  ASSERT_TRUE(decode_upload(m.global, asked, int32, &from_int32).ok());
  EXPECT_TRUE(varint.empty() && int32.empty()) << "the groups are consumed";
  ASSERT_EQ(from_varint.names, from_int32.names);
  for (std::size_t i = 0; i < from_varint.size(); ++i) {
    EXPECT_TRUE(torch::equal(from_varint.tensors[i], from_int32.tensors[i])) << from_varint.names[i];
  }
  // The positions' share: four bytes an int32 index, one or two a gap.
  EXPECT_LT(static_cast<double>(varint_bytes), 0.75 * static_cast<double>(int32_bytes));

  fl::Config unknown = asked;
  unknown[kCompressTopKPositionsKey] = std::string("elias-gamma");
  EXPECT_THROW(requested_upload_codec(unknown), fedsign::Error);
}

}  // namespace
}  // namespace fedsign::net
