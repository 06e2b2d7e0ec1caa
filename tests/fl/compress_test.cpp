// Update compression (fl/compress/): int8 quantization within its error bound (per tensor and
// per channel, nearest and stochastic rounding, the latter unbiased and seeded), top-k with
// error feedback converging on a toy federated problem where plain top-k stalls, bf16 models,
// and the byte counts behind the targets (>= 3.9x for int8, >= 30x for top-1%; top-k's
// positions as varint gaps, their bytes and their refusals); uploads
// as the simulation counts them (encode_upload: bytes on the wire, the model the server
// reconstructs, top-k's residual carried from one upload to the next).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>

#include "fedsign/core/check.h"
#include "fedsign/fl/compress/positions.h"
#include "fedsign/fl/compress/quantize.h"
#include "fedsign/fl/compress/topk.h"
#include "fedsign/fl/compress/upload.h"

namespace fedsign::fl::compress {
namespace {

Weights one(const std::string& name, torch::Tensor t) {
  Weights w;
  w.names = {name};
  w.tensors = {std::move(t)};
  return w;
}

std::vector<float> values(const torch::Tensor& t) {
  auto c = t.to(torch::kFloat32).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

TEST(Int8, ErrorWithinTheBound) {
  torch::manual_seed(1);
  const torch::Tensor x = torch::randn({64, 50}) * 0.01;
  const double s = x.abs().max().item<double>() / 127;
  Int8Options nearest;
  nearest.stochastic = false;
  const Weights back_nearest = dequantize(quantize_int8(one("w", x), nearest));
  EXPECT_LE((back_nearest.tensors[0] - x).abs().max().item<double>(), s / 2 + s * 1e-4);
  const QuantizedWeights q = quantize_int8(one("w", x));  // stochastic
  EXPECT_EQ(q.tensors[0].values.scalar_type(), torch::kInt8);
  const double err = (dequantize(q).tensors[0] - x).abs().max().item<double>();
  EXPECT_LT(err, s * (1 + 1e-4));  // float32 arithmetic adds ~1e-5 s
  EXPECT_GT(err, s / 2);  // stochastic rounding does round away from the nearest level
  // Same seed, same encoding; another seed differs.
  Int8Options other;
  other.seed = 1;
  EXPECT_TRUE(torch::equal(quantize_int8(one("w", x)).tensors[0].values, q.tensors[0].values));
  EXPECT_FALSE(torch::equal(quantize_int8(one("w", x), other).tensors[0].values, q.tensors[0].values));
}

TEST(Int8, StochasticRoundingIsUnbiased) {
  // One value between two levels: 0.3 of the way from level 12 to 13 (scale 1/127 from max 1).
  const torch::Tensor x = torch::tensor({1.0f, 12.3f / 127});
  double sum = 0;
  const int draws = 2000;
  for (int seed = 0; seed < draws; ++seed) {
    Int8Options o;
    o.seed = static_cast<uint64_t>(seed);
    sum += dequantize(quantize_int8(one("w", x), o)).tensors[0][1].item<double>();
  }
  // Mean of 2000 draws of a Bernoulli(0.3) level step: std 0.46 / sqrt(2000) levels.
  EXPECT_NEAR(sum / draws * 127, 12.3, 4 * 0.46 / std::sqrt(draws));
}

TEST(Int8, PerChannelScalesFollowEachChannel) {
  // Channel c has magnitude 10^-c: one scale for all would flatten the small channels to 0.
  torch::manual_seed(2);
  torch::Tensor x = torch::randn({4, 3, 3, 3});
  for (int c = 0; c < 4; ++c) x[c].mul_(std::pow(10.0, -c));
  Int8Options per_channel;
  per_channel.per_channel = true;
  const QuantizedWeights q = quantize_int8(one("conv.weight", x), per_channel);
  EXPECT_EQ(q.tensors[0].scales.numel(), 4);
  const torch::Tensor back = dequantize(q).tensors[0];
  EXPECT_EQ(back.sizes(), x.sizes());
  for (int c = 0; c < 4; ++c) {
    const double s = x[c].abs().max().item<double>() / 127;
    EXPECT_LT((back[c] - x[c]).abs().max().item<double>(), s * (1 + 1e-4)) << "channel " << c;
  }
  const torch::Tensor per_tensor = dequantize(quantize_int8(one("conv.weight", x))).tensors[0];
  EXPECT_GT((per_tensor[3] - x[3]).abs().max().item<double>(),
            10 * (back[3] - x[3]).abs().max().item<double>());
  // 1-D tensors keep one scale; integer tensors travel unchanged; zeros stay zeros.
  Weights mixed;
  mixed.names = {"bias", "bn.num_batches_tracked", "zero"};
  mixed.tensors = {torch::randn({5}), torch::tensor(int64_t{17}), torch::zeros({3, 2})};
  const QuantizedWeights mq = quantize_int8(mixed, per_channel);
  EXPECT_EQ(mq.tensors[0].scales.numel(), 1);
  EXPECT_TRUE(mq.tensors[1].raw);
  const Weights mback = dequantize(mq);
  EXPECT_EQ(mback.tensors[1].item<int64_t>(), 17);
  EXPECT_EQ(mback.tensors[2].abs().sum().item<float>(), 0.0f);
}

TEST(Int8, BytesAreAQuarter) {
  const Weights w = one("w", torch::randn({100, 100}));
  const QuantizedWeights q = quantize_int8(w);
  EXPECT_EQ(q.bytes(), 10000 + 4);
  EXPECT_GE(static_cast<double>(w.bytes()) / q.bytes(), 3.9);
  Int8Options per_channel;
  per_channel.per_channel = true;
  EXPECT_EQ(quantize_int8(w, per_channel).bytes(), 10000 + 100 * 4);
}

TEST(TopK, KeepsTheLargestAndFeedsBackTheRest) {
  const Weights delta = one("w", torch::tensor({5.0f, -7.0f, 1.0f, 0.5f}));
  TopKResult first = topk_compress(delta, {0.5, 0});  // k = 2
  EXPECT_EQ(values(densify(first.sparse).tensors[0]), (std::vector<float>{5, -7, 0, 0}));
  EXPECT_EQ(values(first.residual.tensors[0]), (std::vector<float>{0, 0, 1, 0.5f}));
  EXPECT_EQ(first.sparse.bytes(), 2 * (4 + 1));  // positions 0 and 1: gaps 0 and 0, a byte each
  // Next round: (0, 0, 0, 1) + residual (0, 0, 1, 0.5) -> sends (0, 0, 1, 1.5), nothing left.
  TopKResult second = topk_compress(one("w", torch::tensor({0.0f, 0.0f, 0.0f, 1.0f})), {0.5, 0},
                                    first.residual);
  EXPECT_EQ(values(densify(second.sparse).tensors[0]), (std::vector<float>{0, 0, 1, 1.5f}));
  EXPECT_EQ(values(second.residual.tensors[0]), (std::vector<float>{0, 0, 0, 0}));
  // Top-1% of a large update: >= 30x fewer bytes; shapes and integer tensors survive.
  Weights big;
  big.names = {"conv.weight", "bn.num_batches_tracked"};
  big.tensors = {torch::randn({64, 16, 3, 3}), torch::tensor(int64_t{4})};
  TopKResult sparse = topk_compress(big, {0.01, 0});
  EXPECT_GE(static_cast<double>(big.bytes()) / sparse.sparse.bytes(), 30.0);
  const Weights dense = densify(sparse.sparse);
  EXPECT_EQ(dense.tensors[0].sizes(), big.tensors[0].sizes());
  EXPECT_EQ((dense.tensors[0] != 0).sum().item<int64_t>(), 93);  // ceil(0.01 * 9216)
  EXPECT_EQ(dense.tensors[1].item<int64_t>(), 4);
  EXPECT_TRUE(torch::allclose(dense.tensors[0] + sparse.residual.tensors[0], big.tensors[0]));
  EXPECT_THROW(topk_compress(big, {0.0, 0}), fedsign::Error);
  EXPECT_THROW(topk_compress(delta, {0.5, 0}, sparse.residual), fedsign::Error);
}

std::vector<uint8_t> bytes_of(const torch::Tensor& t) {
  return {t.data_ptr<uint8_t>(), t.data_ptr<uint8_t>() + t.numel()};
}

TEST(TopKPositions, GapsAreVarintsOfEveryLength) {
  // 300 - 0 - 1 = 299 = 0b10'0101011: 0xab then 0x02 (low seven bits first).
  EXPECT_EQ(bytes_of(encode_positions(torch::tensor({0, 1, 129, 429}, torch::kInt32))),
            (std::vector<uint8_t>{0x00, 0x00, 0x7f, 0xab, 0x02}));
  // Gaps at each varint length's edges, up to a position just inside an int32 tensor.
  const int64_t numel = int64_t{0x7fffffff};
  std::vector<int64_t> p = {5};
  for (int64_t gap : {int64_t{1}, int64_t{128}, int64_t{129}, int64_t{16384}, int64_t{16385},
                      int64_t{1} << 21, (int64_t{1} << 21) + 1, int64_t{1} << 28,
                      (int64_t{1} << 28) + 1}) {
    p.push_back(p.back() + gap);
  }
  p.push_back(numel - 1);
  const torch::Tensor positions = torch::tensor(p, torch::kInt64);
  const torch::Tensor encoded = encode_positions(positions);
  // 1 + 1 + 1 + 2 + 2 + 3 + 3 + 4 + 4 + 5 + 5 bytes (the last gap is above 2^28).
  EXPECT_EQ(encoded.numel(), 31);
  EXPECT_EQ(encoded_positions_bytes(positions), encoded.numel());
  EXPECT_TRUE(torch::equal(decode_positions(encoded, positions.numel(), numel, "w"),
                           positions.to(torch::kInt32)));
  EXPECT_EQ(decode_positions(encode_positions(torch::empty({0}, torch::kInt32)), 0, 10, "w").numel(), 0);
  // The client's own positions must be ascending: a repeat or a step back is a bug, not a gap.
  EXPECT_THROW(encode_positions(torch::tensor({3, 3}, torch::kInt32)), fedsign::Error);
  EXPECT_THROW(encode_positions(torch::tensor({4, 3}, torch::kInt32)), fedsign::Error);
  EXPECT_THROW(encode_positions(torch::tensor({-1}, torch::kInt32)), fedsign::Error);
}

TEST(TopKPositions, MalformedBytesAreRefusedNamingTheTensor) {
  const auto refused = [](std::vector<uint8_t> b, int64_t count, int64_t numel,
                          const std::string& expect) {
    const torch::Tensor bytes = torch::tensor(std::vector<int64_t>(b.begin(), b.end())).to(torch::kUInt8);
    try {
      decode_positions(bytes, count, numel, "stage2.0.weight");
      ADD_FAILURE() << "accepted: " << expect;
    } catch (const fedsign::Error& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find(expect), std::string::npos) << m;
      EXPECT_NE(m.find("stage2.0.weight"), std::string::npos) << m;
    }
  };
  refused({0x00, 0x80}, 2, 100, "end after 1 of 2");        // the second varint is cut short
  refused({0x00}, 2, 100, "end after 1 of 2");              // fewer positions than values
  refused({0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, 1, 100, "runs past 5 bytes");
  refused({0x63}, 1, 99, "outside its 99 values");          // position 99
  refused({0x10, 0x7f}, 2, 100, "outside its 100 values");  // 16, then 16 + 1 + 127
  refused({0x01, 0x02, 0x03}, 2, 100, "1 bytes left over");
  refused({0x00, 0x00}, 3, 2, "3 positions for tensor");    // more positions than values
  EXPECT_THROW(decode_positions(torch::zeros({2}, torch::kInt32), 1, 10, "w"), fedsign::Error);
}

TEST(TopKPositions, TopOnePercentSendsFewerThanSixBytesAValue) {
  // Four bytes of float32 and one or two of gap (a random 1%: gaps near 100, below 128 about
  // seven times in ten); int32 indices made it eight.
  torch::manual_seed(3);
  const torch::Tensor t = torch::randn({512, 256, 3, 3}).mul_(0.01);
  const int64_t k = TopKRule(0.01, 0).count(t.numel());
  const TopKResult top = topk_compress(one("w", t), {0.01, 0});
  const double per_value = static_cast<double>(top.sparse.bytes()) / static_cast<double>(k);
  EXPECT_GT(per_value, 5.0);
  EXPECT_LT(per_value, 6.0);
  EXPECT_GE(static_cast<double>(t.numel() * 4) / static_cast<double>(top.sparse.bytes()), 65.0);
}

// The selection top-k sends: the k largest magnitudes as torch::topk finds them, positions
// ascending, ties at the k-th magnitude broken by position, NaN above every number.
TEST(TopK, LargestMagnitudesAreTopksSetInOrder) {
  auto positions = [](const torch::Tensor& t, int64_t k) {
    const torch::Tensor idx = largest_magnitudes(t, k);
    return std::vector<int64_t>(idx.data_ptr<int64_t>(), idx.data_ptr<int64_t>() + idx.numel());
  };
  EXPECT_EQ(positions(torch::tensor({1.0f, -4.0f, 2.0f, 4.0f, -2.0f}), 3),
            (std::vector<int64_t>{1, 2, 3}));  // |-2| ties with 2: the first one
  EXPECT_EQ(positions(torch::tensor({0.0f, 0.0f, 0.0f}), 2), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(positions(torch::tensor({1.0f, NAN, 3.0f}), 1), (std::vector<int64_t>{1}));
  EXPECT_EQ(positions(torch::tensor({1.0f, 2.0f}), 0), (std::vector<int64_t>{}));
  EXPECT_THROW(largest_magnitudes(torch::tensor({1.0f}), 2), fedsign::Error);
  torch::manual_seed(5);
  const torch::Tensor x = torch::randn({64, 9, 3, 3});
  const int64_t k = 52;
  const torch::Tensor mine = largest_magnitudes(x, k);
  const torch::Tensor theirs = std::get<1>(x.reshape({-1}).abs().topk(k));
  EXPECT_TRUE(torch::equal(mine, std::get<0>(theirs.sort())));
}

// The selection against a plain reference (a stable sort of the positions by magnitude, NaN as
// infinity), where a radix selection could slip: many values in one bucket of the top 16 bits
// (equal exponents), k at a bucket's edge, ties across signs and zeros, infinities, NaN and
// denormals, and a tensor of ResNet-18's largest size.
TEST(TopK, LargestMagnitudesMatchASortAtBucketEdgesAndSpecialValues) {
  auto reference = [](const torch::Tensor& t, int64_t k) {
    const torch::Tensor flat = t.reshape({-1}).contiguous();
    const float* x = flat.data_ptr<float>();
    auto mag = [&](int64_t i) { return std::isnan(x[i]) ? INFINITY : std::fabs(x[i]); };
    std::vector<int64_t> order(static_cast<std::size_t>(flat.numel()));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return mag(a) > mag(b); });
    order.resize(static_cast<std::size_t>(k));
    std::sort(order.begin(), order.end());
    return order;
  };
  auto mine = [](const torch::Tensor& t, int64_t k) {
    const torch::Tensor idx = largest_magnitudes(t, k);
    return std::vector<int64_t>(idx.data_ptr<int64_t>(), idx.data_ptr<int64_t>() + idx.numel());
  };
  torch::manual_seed(11);
  // 1.0 .. 1.0039 share one bucket (exponent and the first 7 mantissa bits); 2.0 one above it.
  const torch::Tensor one_bucket =
      torch::cat({1.0f + torch::randint(0, 64, {4000}) / 16384.0f, torch::full({7}, 2.0f),
                  -1.0f - torch::randint(0, 64, {3000}) / 16384.0f})
          .index_select(0, torch::randperm(7007));
  for (int64_t k : {1, 6, 7, 8, 100, 3500, 7006, 7007}) {
    EXPECT_EQ(mine(one_bucket, k), reference(one_bucket, k)) << "k = " << k;
  }
  const float denormal = std::numeric_limits<float>::denorm_min();
  const torch::Tensor special = torch::tensor(
      {0.0f, -0.0f, INFINITY, NAN, -INFINITY, 3 * denormal, -denormal, 1e-30f, -1e30f, 0.0f, NAN});
  for (int64_t k = 0; k <= special.numel(); ++k) {
    EXPECT_EQ(mine(special, k), reference(special, k)) << "k = " << k;
  }
  const torch::Tensor few_values = torch::randint(-3, 4, {10000}).to(torch::kFloat32);
  for (int64_t k : {1, 2857, 2858, 5000, 9999}) {
    EXPECT_EQ(mine(few_values, k), reference(few_values, k)) << "k = " << k;
  }
  const torch::Tensor large = torch::randn({512, 512, 3, 3}) * 1e-3;  // ResNet-18's layer4 conv
  EXPECT_EQ(mine(large, 23593), reference(large, 23593));
}

// Under a dense_up_to rule, a small floating tensor (a BatchNorm scale) goes whole as its delta,
// without indices or residual, while a larger one beside it is still sparsified.
TEST(TopK, TensorsUpToTheRulesSizeAreSentWhole) {
  Weights delta;
  delta.names = {"bn.weight", "conv.weight"};
  delta.tensors = {torch::randn({32}), torch::randn({64, 16, 3, 3})};
  const TopKRule rule(0.01, 32);
  EXPECT_FALSE(rule.sparsifies("bn.weight", true, 32));
  EXPECT_TRUE(rule.sparsifies("bn.weight", true, 33));
  EXPECT_FALSE(rule.sparsifies("bn.running_mean", true, 1000));
  const TopKResult top = topk_compress(delta, rule);
  EXPECT_TRUE(top.sparse.tensors[0].raw);
  EXPECT_TRUE(torch::equal(densify(top.sparse).tensors[0], delta.tensors[0]));
  EXPECT_FALSE(top.sparse.tensors[1].raw);
  EXPECT_EQ(top.residual.names, std::vector<std::string>{"conv.weight"});
  // Whole float32, then ceil(0.01 * 9216) values with their positions' varint gaps.
  EXPECT_EQ(top.sparse.bytes(),
            32 * 4 + 93 * 4 + encoded_positions_bytes(top.sparse.tensors[1].indices));
  // The same update with every tensor sparsified: one value of the 32.
  EXPECT_EQ(topk_compress(delta, {0.01, 0}).sparse.tensors[0].values.numel(), 1);
  EXPECT_THROW(topk_compress(delta, TopKRule(0.01, -1)), fedsign::Error);
}

// BatchNorm running statistics are data averages, not steps: sent whole and never carried in
// the residual, where a stale part added to a later variance could make it negative (NaN).
TEST(TopK, RunningStatisticsAreSentWholeWithoutAResidual) {
  Weights delta;
  delta.names = {"conv.weight", "bn.running_var", "bn.running_mean"};
  delta.tensors = {torch::tensor({3.0f, -1.0f, 0.5f, 0.25f}), torch::tensor({-0.9f, 0.1f, 0.2f}),
                   torch::tensor({0.3f, -0.4f})};
  const TopKResult sent = topk_compress(delta, {0.25, 0});  // k = 1 of each sparsified tensor
  const Weights dense = densify(sent.sparse);
  EXPECT_EQ(values(dense.tensors[0]), (std::vector<float>{3, 0, 0, 0}));
  EXPECT_TRUE(torch::equal(dense.tensors[1], delta.tensors[1]));
  EXPECT_TRUE(torch::equal(dense.tensors[2], delta.tensors[2]));
  ASSERT_EQ(sent.residual.names, (std::vector<std::string>{"conv.weight"}));
  // Bytes: one value and its position (0: one byte) plus the two statistics as float32.
  EXPECT_EQ(sent.sparse.bytes(), 4 + 1 + 3 * 4 + 2 * 4);
  // The residual carries over to the next upload of the same layout.
  const TopKResult next = topk_compress(delta, {0.25, 0}, sent.residual);
  EXPECT_EQ(values(densify(next.sparse).tensors[0]), (std::vector<float>{3, 0, 0, 0}));
  EXPECT_EQ(values(next.residual.tensors[0]), (std::vector<float>{0, -2, 1, 0.5f}));
}

// Three clients with f_i(x) = |x - b_i|^2 / 2 share x; each round every client sends its top-1
// compressed step -lr (x - b_i) and the server averages. Each client's largest coordinate is its
// "own" one, so without error feedback the agreed small coordinates are never sent and x stalls
// far from the optimum mean(b_i); with error feedback x ends within O(lr) of it.
double toy_distance(bool error_feedback) {
  const std::vector<torch::Tensor> b = {torch::tensor({-3.0f, 2.0f, 2.0f}),
                                        torch::tensor({2.0f, -3.0f, 2.0f}),
                                        torch::tensor({2.0f, 2.0f, -3.0f})};
  const torch::Tensor optimum = (b[0] + b[1] + b[2]) / 3;
  torch::Tensor x = torch::zeros({3});
  std::map<ClientId, Weights> residuals;
  const double lr = 0.02;
  for (int round = 0; round < 500; ++round) {
    torch::Tensor sum = torch::zeros({3});
    for (ClientId i = 0; i < 3; ++i) {
      const Weights step = one("x", -(x - b[static_cast<std::size_t>(i)]) * lr);
      TopKResult sent = topk_compress(step, {1.0 / 3, 0}, error_feedback ? residuals[i] : Weights{});
      if (error_feedback) residuals[i] = sent.residual;
      sum += densify(sent.sparse).tensors[0];
    }
    x = x + sum / 3;
  }
  return (x - optimum).norm().item<double>();
}

TEST(TopK, ErrorFeedbackConvergesWherePlainTopKStalls) {
  const double with_feedback = toy_distance(true);
  const double without = toy_distance(false);
  EXPECT_LT(with_feedback, 0.1);
  EXPECT_GT(without, 1.0);
}

TEST(Bf16, HalfTheBytesWithinRelativePrecision) {
  torch::manual_seed(3);
  Weights w;
  w.names = {"w", "bn.num_batches_tracked"};
  w.tensors = {torch::randn({1000}), torch::tensor(int64_t{9})};
  const Weights half = to_bf16(w);
  EXPECT_EQ(half.tensors[0].scalar_type(), torch::kBFloat16);
  EXPECT_EQ(half.bytes(), 1000 * 2 + 8);
  const Weights back = from_bf16(half);
  EXPECT_EQ(back.tensors[0].scalar_type(), torch::kFloat32);
  const torch::Tensor rel = (back.tensors[0] - w.tensors[0]).abs() / w.tensors[0].abs();
  EXPECT_LE(rel.max().item<double>(), std::pow(2.0, -8) * (1 + 1e-6));
  EXPECT_EQ(back.tensors[1].item<int64_t>(), 9);
}

TEST(Upload, BytesAndReconstructionPerCodec) {
  torch::manual_seed(4);
  Weights global, local;
  global.names = local.names = {"conv.weight", "bn.num_batches_tracked"};
  global.tensors = {torch::randn({32, 8, 3, 3}), torch::tensor(int64_t{3})};
  local.tensors = {global.tensors[0] + 0.01 * torch::randn({32, 8, 3, 3}), torch::tensor(int64_t{5})};
  // none: the model itself, float32, as the network client sends it.
  CompressOptions none;
  const Upload plain = encode_upload(none, global, local, {}, 1);
  EXPECT_EQ(plain.bytes, local.bytes());
  EXPECT_TRUE(equal(plain.weights, local));
  // int8: about a quarter of the bytes; the server's model is within one quantization step.
  CompressOptions int8;
  int8.codec = "int8";
  const Upload q = encode_upload(int8, global, local, {}, 1);
  EXPECT_EQ(q.bytes, 2304 + 4 + 8);  // int8 values, one scale, the raw counter
  EXPECT_GE(static_cast<double>(plain.bytes) / q.bytes, 3.9);
  const double step = (local.tensors[0] - global.tensors[0]).abs().max().item<double>() / 127;
  EXPECT_LT((q.weights.tensors[0] - local.tensors[0]).abs().max().item<double>(), step * 1.01);
  EXPECT_EQ(q.weights.tensors[1].item<int64_t>(), 5);  // counters travel as they are
  EXPECT_TRUE(q.residual.empty());
  // topk: 10% of the values with their indices; what was left out is the residual, and the
  // next upload sends it (an unchanged model then uploads only the carried-over values).
  CompressOptions top;
  top.codec = "topk";
  top.topk_fraction = 0.1;
  top.topk_dense_up_to = 0;  // the 2,304 values are sparsified under any rule above 2,304
  const Upload first = encode_upload(top, global, local, {}, 1);
  // ceil(0.1 * 2304) values, their positions' varint gaps and the counter.
  const torch::Tensor sent = (first.weights.tensors[0] != global.tensors[0]).reshape({-1}).nonzero().reshape({-1});
  ASSERT_EQ(sent.numel(), 231);
  EXPECT_EQ(first.bytes, 231 * 4 + encoded_positions_bytes(sent) + 8);
  EXPECT_LE(encoded_positions_bytes(sent), 231);  // at 10% every gap fits one byte here
  ASSERT_EQ(first.residual.size(), 1u);
  EXPECT_TRUE(torch::allclose(first.weights.tensors[0] - global.tensors[0] + first.residual.tensors[0],
                              local.tensors[0] - global.tensors[0], 1e-6, 1e-6));
  const Upload second = encode_upload(top, global, global, first.residual, 2);
  EXPECT_GT((second.weights.tensors[0] - global.tensors[0]).abs().sum().item<double>(), 0.0);
  EXPECT_LT(second.residual.tensors[0].abs().sum().item<double>(),
            first.residual.tensors[0].abs().sum().item<double>());
  CompressOptions bad;
  bad.codec = "zip";
  EXPECT_THROW(encode_upload(bad, global, local, {}, 1), fedsign::Error);
  bad.codec = "topk";
  bad.topk_fraction = 0;
  EXPECT_THROW(validate(bad), fedsign::Error);
  bad.topk_fraction = 0.1;
  bad.topk_dense_up_to = -1;
  EXPECT_THROW(validate(bad), fedsign::Error);
}

}  // namespace
}  // namespace fedsign::fl::compress
