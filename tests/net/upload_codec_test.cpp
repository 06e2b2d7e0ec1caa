// Compressed uploads on the wire (net/upload_codec.h): the int8 groups survive the blob
// encoding, the server's reconstruction equals the simulation's (fl::compress::encode_upload)
// bit for bit for the same seed, the blob carries about a quarter of the float32 bytes, and
// malformed uploads are refused without writing anything.
#include "fedsign/net/upload_codec.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fedsign/core/check.h"
#include "fedsign/fl/weights.h"
#include "fedsign/models/registry.h"

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

// The groups as the server receives them: through the blob encoding and back.
WeightGroups over_the_wire(const WeightGroups& groups, int64_t* blob_bytes) {
  const Blob blob = encode(groups);
  *blob_bytes = static_cast<int64_t>(blob.bytes.size());
  WeightGroups received;
  const Status s = decode(blob.specs, blob.bytes, blob.checksum, {}, &received);
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

TEST(UploadCodec, TheServerAsksForInt8OnlyAndTheClientReadsIt) {
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
  fl::Config topk;
  EXPECT_THROW(request_upload_codec(options, topk), fedsign::Error);
  fl::Config unknown{{std::string(kCompressKey), std::string("zstd")}};
  EXPECT_THROW(requested_upload_codec(unknown), fedsign::Error);
}

}  // namespace
}  // namespace fedsign::net
