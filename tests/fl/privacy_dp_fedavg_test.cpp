// DP-FedAvg: clipping bounds every update, the average is McMahan's unweighted mean of clipped
// updates, the noise has the stated variance (central and distributed), epsilon follows the
// accountant round by round, the budget is enforced, and a resumed run continues the account.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <set>

#include "fedsign/core/check.h"
#include "fedsign/fl/client_manager.h"
#include "fedsign/fl/privacy/dp_fedavg.h"
#include "fedsign/fl/update.h"

namespace fedsign::fl::privacy {
namespace {

Weights model(torch::Tensor w) {
  Weights out;
  out.names = {"layer.weight", "bn.num_batches_tracked"};
  out.tensors = {w.to(torch::kFloat32), torch::tensor(int64_t{7})};
  return out;
}

FitResult result(ClientId id, const Weights& w, int64_t n) {
  FitResult r;
  r.client_id = id;
  r.weights = w;
  r.num_examples = n;
  return r;
}

std::unique_ptr<DpFedAvg> make_dp(int64_t per_round, DpOptions dp) {
  StrategyOptions options;
  options.clients_per_round = per_round;
  return wrap_dp(make_strategy("fedavg", options), dp);
}

torch::Tensor weight(const Weights& w) { return w.tensors[0].to(torch::kFloat64); }

TEST(DpFedAvg, ClippingBoundsEveryUpdate) {
  torch::manual_seed(1);
  const double clip = 1.5;
  for (double norm : {0.01, 0.5, 1.5, 3.0, 100.0}) {
    torch::Tensor d = torch::randn({300});
    d = d * (norm / d.norm().item<double>());
    double measured = 0;
    const Weights clipped = clip_delta(model(d), clip, &measured);
    EXPECT_NEAR(measured, norm, 1e-4 * norm);
    EXPECT_LE(l2_norm(clipped), clip * (1 + 1e-6));
    if (norm <= clip) EXPECT_TRUE(equal(clipped, model(d)));
    // The distributed client path (no noise) clips too.
    Config config{{dp_keys::kMode, std::string("distributed")}, {dp_keys::kClip, clip},
                  {dp_keys::kClientNoise, 0.0}};
    const Weights global = model(torch::zeros({300}));
    Metrics metrics;
    const Weights sent = client_privatize(global, model(d), config, 9, &metrics);
    EXPECT_LE(delta_norm(global, sent), clip * (1 + 1e-6));
    EXPECT_EQ(metrics.at(dp_keys::kUnclipped), norm <= clip ? 1.0 : 0.0);
    EXPECT_EQ(sent.tensors[1].item<int64_t>(), 7);  // the step counter is not released
  }
}

TEST(DpFedAvg, AverageIsTheUnweightedMeanOfClippedUpdates) {
  DpOptions dp;
  dp.clip = 1.0;
  dp.noise_multiplier = 0.0;
  auto strategy = make_dp(3, dp);
  FixedClientManager clients(3);
  const Weights global = model(torch::tensor({1.0, 1.0, 1.0, 1.0}));
  const auto ins = strategy->configure_fit(1, global, clients);
  ASSERT_EQ(ins.size(), 3u);
  // Deltas: (0.5,0,0,0) kept; (0,4,0,0) clipped to (0,1,0,0); (0,0,3,4) clipped to (0,0,.6,.8).
  const std::vector<FitResult> results = {
      result(0, model(torch::tensor({1.5, 1.0, 1.0, 1.0})), 1),
      result(1, model(torch::tensor({1.0, 5.0, 1.0, 1.0})), 100),
      result(2, model(torch::tensor({1.0, 1.0, 4.0, 5.0})), 1000)};
  const auto out = strategy->aggregate_fit(1, global, results, {});
  const torch::Tensor expected =
      torch::tensor({1 + 0.5 / 3, 1 + 1.0 / 3, 1 + 0.6 / 3, 1 + 0.8 / 3}, torch::kFloat64);
  EXPECT_LT((weight(out.weights) - expected).abs().max().item<double>(), 1e-6);
  EXPECT_EQ(out.weights.tensors[1].item<int64_t>(), 7);
  EXPECT_EQ(out.metrics.at("num_results"), 3);
  EXPECT_TRUE(std::isinf(strategy->epsilon()));  // no noise: no privacy
}

TEST(DpFedAvg, CentralNoiseHasTheStatedVariance) {
  DpOptions dp;
  dp.clip = 2.0;
  dp.noise_multiplier = 1.5;
  dp.seed = 11;
  auto strategy = make_dp(4, dp);
  FixedClientManager clients(10);
  const int64_t d = 40000;
  const Weights global = model(torch::zeros({d}));
  const auto ins = strategy->configure_fit(1, global, clients);
  ASSERT_EQ(ins.size(), 4u);
  std::vector<FitResult> results;
  for (const auto& i : ins) results.push_back(result(i.client_id, global, 10));
  const auto out = strategy->aggregate_fit(1, global, results, {});
  const torch::Tensor noise = weight(out.weights);
  const double stated = 1.5 * 2.0 / 4;  // z C / m
  EXPECT_DOUBLE_EQ(out.metrics.at("dp_noise_stddev"), stated);
  // The sample stddev of 40,000 normals is within 0.36% (one standard error) of the truth.
  EXPECT_NEAR(noise.std().item<double>(), stated, 0.02 * stated);
  EXPECT_NEAR(noise.mean().item<double>(), 0.0, 5 * stated / std::sqrt(double(d)));
}

TEST(DpFedAvg, DistributedSharesSumToTheCentralNoise) {
  DpOptions dp;
  dp.mode = DpMode::kDistributed;
  dp.clip = 2.0;
  dp.noise_multiplier = 1.5;
  auto strategy = make_dp(4, dp);
  FixedClientManager clients(10);
  const int64_t d = 40000;
  const Weights global = model(torch::zeros({d}));
  const auto ins = strategy->configure_fit(1, global, clients);
  const double share = get_double(ins[0].ins.config, dp_keys::kClientNoise, 0);
  EXPECT_DOUBLE_EQ(share, 1.5 * 2.0 / 2.0);  // z C / sqrt(m), m = 4
  std::vector<FitResult> results;
  for (const auto& i : ins) {
    Metrics metrics;
    FitResult r = result(i.client_id,
                         client_privatize(global, global, i.ins.config, 100 + i.client_id, &metrics), 1);
    r.metrics = metrics;
    results.push_back(r);
  }
  const auto out = strategy->aggregate_fit(1, global, results, {});
  EXPECT_NEAR(weight(out.weights).std().item<double>(), 1.5 * 2.0 / 4, 0.02 * 0.75);
  EXPECT_EQ(out.metrics.count(dp_keys::kUnclipped), 0u);  // individual bits are not published
  // All four shares arrived: the round is accounted with the full multiplier.
  EXPECT_DOUBLE_EQ(strategy->epsilon(), epsilon_for(0.4, 1.5, 1, 1e-5));
}

// Runs `rounds` rounds of zero updates (the accounting does not depend on the data).
void run_rounds(DpFedAvg& strategy, const ClientManager& clients, int64_t from, int64_t to) {
  const Weights global = model(torch::zeros({16}));
  for (int64_t round = from; round <= to; ++round) {
    std::vector<FitResult> results;
    for (const auto& i : strategy.configure_fit(round, global, clients)) {
      results.push_back(result(i.client_id, global, 5));
    }
    const auto out = strategy.aggregate_fit(round, global, results, {});
    EXPECT_DOUBLE_EQ(out.metrics.at("dp_epsilon"), strategy.epsilon());
  }
}

TEST(DpFedAvg, EpsilonGrowsEachRoundAsTheAccountantSays) {
  DpOptions dp;
  dp.noise_multiplier = 1.1;
  auto strategy = make_dp(10, dp);
  FixedClientManager clients(100);
  double previous = 0;
  for (int64_t round = 1; round <= 5; ++round) {
    run_rounds(*strategy, clients, round, round);
    EXPECT_NEAR(strategy->epsilon(), epsilon_for(0.1, 1.1, round, 1e-5), 1e-12);
    EXPECT_GT(strategy->epsilon(), previous);
    previous = strategy->epsilon();
  }
  // Sampling: exactly m distinct clients, repeatable, different across rounds.
  const auto a = strategy->configure_fit(6, model(torch::zeros({16})), clients);
  const auto b = strategy->configure_fit(6, model(torch::zeros({16})), clients);
  const auto c = strategy->configure_fit(7, model(torch::zeros({16})), clients);
  std::set<ClientId> ids;
  for (const auto& i : a) ids.insert(i.client_id);
  EXPECT_EQ(ids.size(), 10u);
  EXPECT_EQ(a[3].client_id, b[3].client_id);
  bool differ = false;
  for (std::size_t i = 0; i < a.size(); ++i) differ |= a[i].client_id != c[i].client_id;
  EXPECT_TRUE(differ);
}

TEST(DpFedAvg, RefusesToPassTheBudgetUnlessAllowedAndResumesTheAccount) {
  DpOptions dp;
  dp.noise_multiplier = 1.0;
  dp.target_epsilon = 0.5 * (epsilon_for(0.1, 1.0, 2, 1e-5) + epsilon_for(0.1, 1.0, 3, 1e-5));
  auto strategy = make_dp(10, dp);
  FixedClientManager clients(100);
  run_rounds(*strategy, clients, 1, 2);
  EXPECT_THROW(strategy->configure_fit(3, model(torch::zeros({16})), clients), fedsign::Error);
  // A resumed run continues the same account (and so refuses the same round).
  auto resumed = make_dp(10, dp);
  resumed->load_state(strategy->state());
  EXPECT_EQ(resumed->epsilon(), strategy->epsilon());
  EXPECT_EQ(resumed->accountant().steps(), 2);
  EXPECT_THROW(resumed->configure_fit(3, model(torch::zeros({16})), clients), fedsign::Error);
  dp.allow_over_budget = true;
  auto allowed = make_dp(10, dp);
  allowed->load_state(strategy->state());
  run_rounds(*allowed, clients, 3, 3);
  EXPECT_NEAR(allowed->epsilon(), epsilon_for(0.1, 1.0, 3, 1e-5), 1e-12);
  EXPECT_GT(allowed->epsilon(), dp.target_epsilon);
}

TEST(DpFedAvg, AdaptiveClipFollowsTheTargetQuantile) {
  for (double norm : {10.0, 0.01}) {
    DpOptions dp;
    dp.clip = 1.0;
    dp.adaptive_clip = true;
    dp.noise_multiplier = 1.0;
    auto strategy = make_dp(20, dp);  // sigma_b = 20 / 20 = 1 > z / 2
    FixedClientManager clients(40);
    const Weights global = model(torch::zeros({4}));
    double previous = strategy->clip();
    for (int64_t round = 1; round <= 4; ++round) {
      std::vector<FitResult> results;
      for (const auto& i : strategy->configure_fit(round, global, clients)) {
        results.push_back(result(i.client_id, model(torch::tensor({norm, 0.0, 0.0, 0.0})), 1));
      }
      strategy->aggregate_fit(round, global, results, {});
      // All clipped: the clip grows; none clipped: it shrinks.
      if (norm > 1) EXPECT_GT(strategy->clip(), previous); else EXPECT_LT(strategy->clip(), previous);
      previous = strategy->clip();
    }
  }
  DpOptions bad;
  bad.adaptive_clip = true;
  bad.noise_multiplier = 2.0;
  auto strategy = make_dp(10, bad);  // sigma_b = 0.5: 2 sigma_b = 1 < z
  FixedClientManager clients(20);
  EXPECT_THROW(strategy->configure_fit(1, model(torch::zeros({4})), clients), fedsign::Error);
}

TEST(DpFedAvg, RefusesScaffold) {
  StrategyOptions options;
  EXPECT_THROW(wrap_dp(make_strategy("scaffold", options), DpOptions{}), fedsign::Error);
}

}  // namespace
}  // namespace fedsign::fl::privacy
