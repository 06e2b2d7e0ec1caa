// Unit tests of the pieces under the protocol: the weights blob (chunking, checksum, a model
// larger than gRPC's 4 MB message limit), update validation and the tokens file.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "fedsign/core/check.h"
#include "fedsign/fl/weights.h"
#include "fedsign/models/registry.h"
#include "fedsign/net/blob.h"
#include "fedsign/net/tokens.h"
#include "fedsign/net/validate.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::net {
namespace {

fl::Weights small_weights() {
  fl::Weights w;
  w.names = {"a.weight", "a.bias", "bn.num_batches_tracked"};
  w.tensors = {torch::randn({4, 3}), torch::randn({4}), torch::tensor(int64_t{7})};
  return w;
}

// Splits into kMaxChunkBytes pieces and glues them back, as sender and receiver do.
std::string through_chunks(const std::string& bytes) {
  std::string out;
  for (std::size_t offset = 0; offset < bytes.size(); offset += kMaxChunkBytes) {
    const std::string chunk = bytes.substr(offset, kMaxChunkBytes);
    EXPECT_LE(chunk.size(), kMaxChunkBytes);
    out += chunk;
  }
  return out;
}

TEST(Blob, RoundTripsGroupsExactly) {
  const fl::Weights w = small_weights();
  fl::Weights control;
  control.names = {"a.weight"};
  control.tensors = {torch::randn({4, 3}, torch::kFloat64)};
  const Blob blob = encode({{kWeightsGroup, w}, {kControlGroup, control}});
  WeightGroups out;
  ASSERT_TRUE(decode(blob.specs, through_chunks(blob.bytes), blob.checksum, {}, &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(fl::equal(out[kWeightsGroup], w));
  EXPECT_TRUE(fl::equal(out[kControlGroup], control));
}

TEST(Blob, LargeModelPassesInChunksIntact) {
  models::ModelOptions options;
  options.input_size = 32;
  const fl::Weights w = fl::get_weights(*models::create_model("resnet18", options));
  ASSERT_GT(w.bytes(), 4 * 1024 * 1024);  // beyond gRPC's default message limit
  const Blob blob = encode({{kWeightsGroup, w}});
  EXPECT_GT(blob.bytes.size() / kMaxChunkBytes, 4u);
  WeightGroups out;
  ASSERT_TRUE(decode(blob.specs, through_chunks(blob.bytes), blob.checksum, {}, &out).ok());
  EXPECT_TRUE(fl::equal(out[kWeightsGroup], w));
}

TEST(Blob, DetectsCorruptionTruncationAndOversize) {
  const Blob blob = encode({{kWeightsGroup, small_weights()}});
  WeightGroups out;
  std::string corrupt = blob.bytes;
  corrupt[5] ^= 0x40;
  EXPECT_EQ(decode(blob.specs, corrupt, blob.checksum, {}, &out).code, Code::kInvalidArgument);
  EXPECT_EQ(decode(blob.specs, blob.bytes.substr(1), blob.checksum, {}, &out).code,
            Code::kInvalidArgument);
  DecodeLimits tiny;
  tiny.max_bytes = 16;
  EXPECT_EQ(decode(blob.specs, blob.bytes, blob.checksum, tiny, &out).code, Code::kResourceExhausted);
  auto bad = blob.specs;
  bad[0].shape = {-1, 3};
  EXPECT_FALSE(decode(bad, blob.bytes, blob.checksum, {}, &out).ok());
}

TEST(Validate, AcceptsAGoodUpdateAndRejectsBadOnes) {
  const fl::Weights global = small_weights();
  fl::FitResult good;
  good.weights = fl::clone(global);
  good.num_examples = 10;
  good.metrics = {{"train_loss", 0.5}};
  EXPECT_TRUE(validate_fit_update(global, std::nullopt, good).ok());

  fl::FitResult nan = good;
  nan.weights = fl::clone(global);
  nan.weights.tensors[1][2] = NAN;
  Status s = validate_fit_update(global, std::nullopt, nan);
  EXPECT_EQ(s.code, Code::kInvalidArgument);
  EXPECT_NE(s.message.find("a.bias"), std::string::npos) << s.message;

  fl::FitResult shape = good;
  shape.weights = fl::clone(global);
  shape.weights.tensors[0] = torch::zeros({5, 3});
  EXPECT_NE(validate_fit_update(global, std::nullopt, shape).message.find("shape"), std::string::npos);

  fl::FitResult dtype = good;
  dtype.weights = fl::clone(global);
  dtype.weights.tensors[0] = dtype.weights.tensors[0].to(torch::kFloat64);
  EXPECT_NE(validate_fit_update(global, std::nullopt, dtype).message.find("dtype"), std::string::npos);

  fl::FitResult name = good;
  name.weights = fl::clone(global);
  name.weights.names[1] = "evil";
  EXPECT_FALSE(validate_fit_update(global, std::nullopt, name).ok());

  fl::FitResult missing = good;
  missing.weights.names.pop_back();
  missing.weights.tensors.pop_back();
  EXPECT_FALSE(validate_fit_update(global, std::nullopt, missing).ok());

  fl::FitResult negative = good;
  negative.num_examples = -1;
  EXPECT_FALSE(validate_fit_update(global, std::nullopt, negative).ok());

  fl::FitResult metric = good;
  metric.metrics["train_loss"] = INFINITY;
  EXPECT_FALSE(validate_fit_update(global, std::nullopt, metric).ok());

  // SCAFFOLD: a control delta is required exactly when the task carried c.
  fl::FitResult with_control = good;
  with_control.control_delta = fl::select(global, {true, true, false});
  EXPECT_FALSE(validate_fit_update(global, std::nullopt, with_control).ok());
  EXPECT_TRUE(validate_fit_update(global, fl::select(global, {true, true, false}), with_control).ok());
  EXPECT_FALSE(validate_fit_update(global, fl::select(global, {true, true, false}), good).ok());
}

TEST(Tokens, ParsesAuthenticatesAndRevokes) {
  testing::TempDir tmp;
  const auto file = tmp / "tokens.txt";
  {
    std::ofstream out(file);
    out << "# name token [revoked]\nalice s3cret\nbob hunter2 revoked\n\n";
  }
  TokenStore store(file);
  EXPECT_TRUE(store.authenticate("alice", "s3cret").ok());
  EXPECT_EQ(store.authenticate("alice", "wrong").code, Code::kUnauthenticated);
  EXPECT_EQ(store.authenticate("carol", "s3cret").code, Code::kUnauthenticated);
  EXPECT_EQ(store.authenticate("bob", "hunter2").code, Code::kPermissionDenied);
  EXPECT_THROW(parse_tokens("alice\n", "f"), Error);
  EXPECT_THROW(parse_tokens("alice x maybe\n", "f"), Error);
}

}  // namespace
}  // namespace fedsign::net
