// Secure aggregation: Shamir sharing, fixed-point encoding, and the full protocol with clients
// dropping at each step; the unmasked sum is exact (in words) and the masked input of one
// client looks uniform whatever it encodes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>

#include "fedsign/core/check.h"
#include "fedsign/fl/privacy/fixed_point.h"
#include "fedsign/fl/privacy/secagg.h"
#include "fedsign/fl/privacy/secagg_update.h"
#include "fedsign/fl/update.h"
#include "fedsign/fl/weights.h"

namespace fedsign::fl::privacy {
namespace {

Bytes32 secret_of(uint8_t start) {
  Bytes32 s;
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<uint8_t>(start + 37 * i);
  return s;
}

TEST(Shamir, AnyThresholdSubsetRecoversTheSecretAndFewerDoNot) {
  RandomSource random(7);
  const Bytes32 secret = secret_of(3);
  const auto shares = shamir_split(secret, 3, {1, 2, 3, 4, 5}, random);
  EXPECT_EQ(shamir_reconstruct({shares[0], shares[1], shares[2]}), secret);
  EXPECT_EQ(shamir_reconstruct({shares[4], shares[1], shares[3]}), secret);
  EXPECT_EQ(shamir_reconstruct(shares), secret);  // more than t: same polynomial
  // Two shares of a degree-2 polynomial interpolate a line: not the secret.
  bool recovered = false;
  try {
    recovered = shamir_reconstruct({shares[0], shares[1]}) == secret;
  } catch (const fedsign::Error&) {  // out-of-range chunk: detected as inconsistent
  }
  EXPECT_FALSE(recovered);
  EXPECT_EQ(field_mul(field_inv(123456789), 123456789), 1u);
  EXPECT_THROW(shamir_split(secret, 6, {1, 2, 3, 4, 5}, random), fedsign::Error);
}

TEST(FixedPoint, ScaleFollowsTheOverflowFormulaAndExtremeSumsDoNotWrap) {
  const FixedPointCodec codec(1.0, 10);
  // scale = 2^floor(log2((2^31 - 1 - 5) / 10)) = 2^27
  EXPECT_EQ(codec.scale(), std::ldexp(1.0, 27));
  const std::vector<float> x = {1.0f, -1.0f, 0.3f, -0.7f, 5.0f};  // 5.0 is clamped
  int64_t clamped = 0;
  const auto words = codec.encode(x, &clamped);
  EXPECT_EQ(clamped, 1);
  std::vector<uint32_t> sum(words.size(), 0);
  for (int i = 0; i < 10; ++i) add_words(sum, words);  // 10 summands at the bound
  const std::vector<double> back = codec.decode(sum);
  const std::vector<double> expected = {10.0, -10.0, 10.0 * 0.3f, 10.0 * -0.7f, 10.0};
  for (std::size_t i = 0; i < x.size(); ++i) {
    EXPECT_LE(std::abs(back[i] - expected[i]), codec.max_sum_error()) << i;
  }
  const std::vector<double> bad = {0.0, NAN};
  EXPECT_THROW(codec.encode(bad), fedsign::Error);
  EXPECT_THROW(FixedPointCodec(1e9, 10), fedsign::Error);
}

// One protocol run. Clients in `lost_inputs` vanish after sharing keys: the others' masked
// inputs contain pairwise masks with them, but their own input never arrives (the hard case:
// the server must rebuild their pairwise masks from Shamir shares). Clients in `silent` send
// their masked input, then vanish before the unmasking round (their input counts; the others
// reveal their self-mask seeds). Returns the unmasked sum.
struct ProtocolRun {
  std::vector<uint32_t> sum;
  std::vector<MaskedInput> masked;
};

ProtocolRun run_protocol(int64_t n, int64_t threshold, const std::vector<std::vector<uint32_t>>& inputs,
                 const std::set<ClientId>& lost_inputs, const std::set<ClientId>& silent) {
  const auto length = static_cast<int64_t>(inputs.front().size());
  std::vector<SecAggClient> clients;
  for (ClientId id = 0; id < n; ++id) clients.emplace_back(id * 3 + 1, threshold, 42);  // sparse ids
  SecAggServer server(threshold, length);
  for (auto& c : clients) server.receive_keys(c.advertise());
  const auto roster = server.keys();
  for (auto& c : clients) server.receive_shares(c.share_keys(roster));
  ProtocolRun run;
  for (std::size_t i = 0; i < clients.size(); ++i) {
    if (lost_inputs.count(static_cast<ClientId>(i))) continue;
    run.masked.push_back(clients[i].mask(server.shares_for(clients[i].id()), inputs[i]));
    server.receive_masked(run.masked.back());
  }
  const auto survivors = server.survivors();
  for (std::size_t i = 0; i < clients.size(); ++i) {
    const auto idx = static_cast<ClientId>(i);
    if (lost_inputs.count(idx) || silent.count(idx)) continue;
    server.receive_unmasking(clients[i].unmask(survivors));
  }
  run.sum = server.finish();
  return run;
}

TEST(SecAgg, UnmaskedSumEqualsThePlainSumWithZeroOneAndSeveralDropouts) {
  const int64_t n = 8, threshold = 5, length = 1000;
  const double clip = 1.0;
  const FixedPointCodec codec(clip, n);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal;
  std::vector<std::vector<double>> updates;
  std::vector<std::vector<uint32_t>> inputs;
  for (int i = 0; i < n; ++i) {
    std::vector<double> u(length);
    double norm = 0;
    for (double& v : u) norm += (v = normal(rng)) * v;
    for (double& v : u) v *= clip / std::sqrt(norm) * (0.2 + 0.1 * i);  // L2 norm <= clip
    updates.push_back(u);
    inputs.push_back(codec.encode(u));
  }
  // (inputs lost after masking began, clients silent at unmasking): 0, 1 and 3 lost inputs.
  const std::vector<std::pair<std::set<ClientId>, std::set<ClientId>>> cases = {
      {{}, {}}, {{2}, {}}, {{0, 5, 7}, {}}, {{6}, {1}}, {{1, 4}, {0}}, {{}, {3, 6}}};
  for (const auto& [lost, silent] : cases) {
    const ProtocolRun run = run_protocol(n, threshold, inputs, lost, silent);
    std::vector<uint32_t> plain(length, 0);
    std::vector<double> real(length, 0.0);
    for (int i = 0; i < n; ++i) {
      if (lost.count(i)) continue;  // a silent client's input is in the sum
      add_words(plain, inputs[i]);
      for (int64_t j = 0; j < length; ++j) real[j] += updates[i][j];
    }
    EXPECT_EQ(run.sum, plain) << lost.size() << " inputs lost, " << silent.size() << " silent";
    const std::vector<double> decoded = codec.decode(run.sum);
    double worst = 0;
    for (int64_t j = 0; j < length; ++j) worst = std::max(worst, std::abs(decoded[j] - real[j]));
    EXPECT_LE(worst, codec.max_sum_error());
    EXPECT_GT(worst, 0.0);  // the comparison is not vacuous: rounding is visible
  }
}

// Chi-square statistic of the top 4 bits of words against 16 equal bins.
double chi_square_top_bits(const std::vector<uint32_t>& words) {
  std::vector<double> bins(16, 0);
  for (uint32_t w : words) bins[w >> 28] += 1;
  const double expected = static_cast<double>(words.size()) / 16;
  double chi2 = 0;
  for (double b : bins) chi2 += (b - expected) * (b - expected) / expected;
  return chi2;
}

TEST(SecAgg, AMaskedInputLooksUniformWhateverItEncodes) {
  const int64_t n = 4, length = 1 << 16;
  const FixedPointCodec codec(1.0, n);
  // A maximally structured input: every coordinate the same value.
  const auto input = codec.encode(std::vector<double>(length, 0.5));
  const std::vector<std::vector<uint32_t>> inputs(n, input);
  const ProtocolRun run = run_protocol(n, 3, inputs, {}, {});
  // 15 degrees of freedom: P(chi2 > 37.7) = 0.001 under uniformity. The unmasked input puts
  // every word in one bin (chi2 = 15 * length), so the test fails without masks.
  EXPECT_GT(chi_square_top_bits(input), 1000.0);
  for (const auto& m : run.masked) {
    EXPECT_LT(chi_square_top_bits(m.words), 37.7) << "client " << m.id;
    double mean = 0;
    for (uint32_t w : m.words) mean += w / 4294967296.0;
    mean /= length;
    EXPECT_NEAR(mean, 0.5, 5 * std::sqrt(1.0 / 12 / length));  // uniform: sd of the mean
  }
}

TEST(SecAgg, RefusesWhenFewerThanTheThresholdRemain) {
  const int64_t n = 5, threshold = 4;
  const std::vector<std::vector<uint32_t>> inputs(n, std::vector<uint32_t>(8, 1));
  EXPECT_NO_THROW((run_protocol(n, threshold, inputs, {4}, {})));  // 4 inputs: fine
  EXPECT_THROW((run_protocol(n, threshold, inputs, {3, 4}, {})), fedsign::Error);
  EXPECT_THROW((run_protocol(n, threshold, inputs, {0}, {4})), fedsign::Error);  // 3 answer
  // A client refuses to unmask for a survivor list below the threshold.
  SecAggClient client(0, threshold, 1);
  EXPECT_THROW(client.unmask({0, 1, 2}), fedsign::Error);
}

TEST(SecAgg, TamperedSharesAreRejected) {
  SecAggClient a(0, 2, 5), b(1, 2, 5);
  SecAggServer server(2, 4);
  server.receive_keys(a.advertise());
  server.receive_keys(b.advertise());
  const auto roster = server.keys();
  SharedKeys from_a = a.share_keys(roster);
  server.receive_shares(b.share_keys(roster));
  from_a.shares[0].ciphertext[3] ^= 1;
  server.receive_shares(from_a);
  EXPECT_THROW(b.mask(server.shares_for(1), {1, 2, 3, 4}), fedsign::Error);
}

}  // namespace
}  // namespace fedsign::fl::privacy

// ---- a model update as secure aggregation's input (secagg_update.h)
namespace fedsign::fl::privacy {
namespace {

Weights model(float base) {
  Weights w;
  w.names = {"conv.weight", "bn.num_batches_tracked", "fc.bias"};
  w.tensors = {torch::full({2, 3}, base), torch::tensor({int64_t{7}}), torch::arange(4).to(torch::kFloat32) * base};
  return w;
}

TEST(SecAggUpdate, DecodedSumOfEncodedUpdatesIsTheSumOfTheDeltas) {
  const Weights global = model(0.5f);
  const std::vector<Weights> locals = {model(0.75f), model(0.25f), model(1.5f)};
  Config config{{secagg_keys::kThreshold, int64_t{2}}, {secagg_keys::kClients, int64_t{3}},
                {secagg_keys::kBound, secagg_bound(4.0, 0.0)}};  // every delta within 4
  ASSERT_TRUE(secagg_requested(config));
  const FixedPointCodec codec = secagg_codec(config);
  // 6 + 4 floating values + the unclipped word; the integer counter is not sent.
  EXPECT_EQ(secagg_input_length(global), 11);
  std::vector<uint32_t> sum(11, 0);
  for (std::size_t k = 0; k < locals.size(); ++k) {
    add_words(sum, encode_secagg_input(global, locals[k], codec, /*unclipped=*/k != 1));
  }
  int64_t unclipped = 0;
  const Weights decoded = decode_secagg_sum(global, sum, codec, &unclipped);
  EXPECT_EQ(unclipped, 2);
  Weights expected = zeros_like(global);
  for (const auto& local : locals) expected = add(expected, model_delta(global, local));
  for (std::size_t i = 0; i < global.size(); ++i) {
    if (!global.tensors[i].is_floating_point()) {
      EXPECT_EQ(decoded.tensors[i].item<int64_t>(), 0) << "counters are not summed";
      continue;
    }
    EXPECT_LE((decoded.tensors[i] - expected.tensors[i]).abs().max().item<double>(),
              codec.max_sum_error() + 1e-6) << global.names[i];
    EXPECT_EQ(decoded.tensors[i].scalar_type(), global.tensors[i].scalar_type());
  }
  EXPECT_GT(expected.tensors[2].abs().max().item<double>(), 1.0);  // a sum worth checking
  // A sum of the wrong length, and a config without the codec's keys, are refused.
  EXPECT_THROW(decode_secagg_sum(global, std::vector<uint32_t>(10, 0), codec, &unclipped),
               fedsign::Error);
  EXPECT_THROW(secagg_codec(Config{{secagg_keys::kThreshold, int64_t{2}}}), fedsign::Error);
  // Noise widens the bound by 6 stddevs.
  EXPECT_DOUBLE_EQ(secagg_bound(1.0, 0.5), 4.0);
  // A clip missing from the round's config (read as NaN) or not positive is refused.
  EXPECT_THROW(secagg_bound(std::nan(""), 0.5), fedsign::Error);
  EXPECT_THROW(secagg_bound(0.0, 0.5), fedsign::Error);
}

}  // namespace
}  // namespace fedsign::fl::privacy
