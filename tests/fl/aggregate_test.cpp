// Aggregation arithmetic against values computed by hand: FedAvg's weighted mean (exactly),
// the server optimizers of FedAvgM and FedOpt (Adam, Yogi, Adagrad), streaming vs all-at-once
// aggregation, failures, and client sampling.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "fedsign/core/check.h"
#include "fedsign/fl/strategy/aggregate.h"
#include "fedsign/fl/client_manager.h"
#include "fedsign/fl/strategy/fedavg.h"
#include "fedsign/fl/strategy/fedavgm.h"
#include "fedsign/fl/strategy/fedopt.h"
#include "fedsign/fl/strategy/fedprox.h"
#include "fedsign/fl/strategy/scaffold.h"

namespace fedsign::fl {
namespace {

// A two-tensor "model": a trainable weight and a BN running mean.
Weights make(std::vector<float> w, std::vector<float> running_mean) {
  Weights out;
  out.names = {"layer.weight", "bn.running_mean"};
  out.tensors = {torch::tensor(w), torch::tensor(running_mean)};
  return out;
}

std::vector<float> values(const torch::Tensor& t) {
  auto c = t.to(torch::kFloat32).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

FitResult result(ClientId id, Weights w, int64_t n) {
  FitResult r;
  r.client_id = id;
  r.weights = std::move(w);
  r.num_examples = n;
  r.metrics["train_loss"] = static_cast<double>(id);
  return r;
}

TEST(FedAvg, WeightedMeanOfKnownTensorsIsExact) {
  // Weights 1, 2, 5 (total 8): means are exact binary fractions, so equality is exact.
  const Weights a = make({1.0f, -2.0f, 0.5f}, {4.0f});
  const Weights b = make({3.0f, 6.0f, 0.25f}, {8.0f});
  const Weights c = make({-1.0f, 2.0f, 1.0f}, {0.0f});
  const Weights mean = weighted_average({a, b, c}, {1, 2, 5});
  // (1*1 + 2*3 + 5*-1)/8 = 0.25; (-2 + 12 + 10)/8 = 2.5; (0.5 + 0.5 + 5)/8 = 0.75; (4+16)/8 = 2.5
  EXPECT_EQ(values(mean.tensors[0]), (std::vector<float>{0.25f, 2.5f, 0.75f}));
  EXPECT_EQ(values(mean.tensors[1]), (std::vector<float>{2.5f}));
  EXPECT_EQ(mean.tensors[0].scalar_type(), torch::kFloat32);

  // The strategy gives the same, streamed or all at once, weighting by num_examples.
  FedAvg fedavg(StrategyOptions{});
  const Weights global = make({0, 0, 0}, {0});
  auto aggregated = fedavg.aggregate_fit(1, global, {result(0, a, 1), result(1, b, 2), result(2, c, 5)}, {});
  EXPECT_TRUE(equal(aggregated.weights, mean));
  EXPECT_DOUBLE_EQ(aggregated.metrics.at("train_loss"), (0 * 1 + 1 * 2 + 2 * 5) / 8.0);
  EXPECT_EQ(aggregated.metrics.at("num_results"), 3);

  // Arbitrary values: equal to the float64 weighted mean rounded once to float32.
  torch::manual_seed(3);
  std::vector<Weights> ws;
  std::vector<double> ns = {17, 3, 250, 41};
  torch::Tensor reference = torch::zeros({64}, torch::kFloat64);
  for (double n : ns) {
    ws.push_back(make({}, {}));
    ws.back().tensors = {torch::randn({64}), torch::randn({1})};
    reference += ws.back().tensors[0].to(torch::kFloat64) * n;
  }
  reference /= (17 + 3 + 250 + 41);
  EXPECT_TRUE(torch::equal(weighted_average(ws, ns).tensors[0], reference.to(torch::kFloat32)));
}

TEST(FedAvg, IntegerBuffersAreAveragedAndRounded) {
  Weights a, b;
  a.names = b.names = {"bn.num_batches_tracked"};
  a.tensors = {torch::tensor(int64_t{10})};
  b.tensors = {torch::tensor(int64_t{13})};
  const Weights mean = weighted_average({a, b}, {1, 1});
  EXPECT_EQ(mean.tensors[0].scalar_type(), torch::kInt64);
  EXPECT_EQ(mean.tensors[0].item<int64_t>(), 12);  // 11.5 rounds to even
}

TEST(FedAvg, MismatchedResultsAreReported) {
  WeightedSum sum;
  sum.add(make({1, 2}, {0}), 1);
  EXPECT_THROW(sum.add(make({1, 2, 3}, {0}), 1), fedsign::Error);
  Weights renamed = make({1, 2}, {0});
  renamed.names[0] = "other.weight";
  EXPECT_THROW(sum.add(renamed, 1), fedsign::Error);
}

TEST(FedAvg, FailuresAndEmptyRounds) {
  const Weights global = make({1, 1}, {1});
  StrategyOptions strict;
  strict.accept_failures = false;
  FedAvg fedavg(strict);
  // A failure with accept_failures = false keeps the global model.
  auto r = fedavg.aggregate_fit(1, global, {result(0, make({3, 3}, {3}), 4)}, {{1, "gone"}});
  EXPECT_TRUE(equal(r.weights, global));
  EXPECT_EQ(r.metrics.at("num_failures"), 1);
  // No results at all: the model stays.
  FedAvg lenient(StrategyOptions{});
  EXPECT_TRUE(equal(lenient.aggregate_fit(1, global, {}, {{0, "gone"}}).weights, global));
  // Accepted failure: the others are averaged.
  auto ok = lenient.aggregate_fit(1, global, {result(0, make({3, 3}, {3}), 4)}, {{1, "gone"}});
  EXPECT_EQ(values(ok.weights.tensors[0]), (std::vector<float>{3, 3}));
}

// Sparse updates from global (0, 0, 0, 0): a (weight 1) changes values 0 and 2, b (weight 3)
// values 1 and 2; nobody value 3. Over all clients value 0 moves by 2/4; over its senders by 2.
TEST(FedAvg, MeanOverSendersAveragesEachValueOverTheClientsThatChangedIt) {
  const Weights global = make({0, 0, 0, 0}, {1});
  const std::vector<FitResult> results = {result(0, make({2, 0, 1, 0}, {3}), 1),
                                          result(1, make({0, 4, 3, 0}, {7}), 3)};
  StrategyOptions options;
  options.mean_over_senders = true;
  FedAvg over_senders(options);
  const auto r = over_senders.aggregate_fit(1, global, results, {});
  // value 2: (1 * 1 + 3 * 3) / 4; the running mean (sent whole) keeps the plain mean (3 + 21) / 4.
  EXPECT_EQ(values(r.weights.tensors[0]), (std::vector<float>{2, 4, 2.5f, 0}));
  EXPECT_EQ(values(r.weights.tensors[1]), (std::vector<float>{6}));
  const auto plain = FedAvg(StrategyOptions{}).aggregate_fit(1, global, results, {});
  EXPECT_EQ(values(plain.weights.tensors[0]), (std::vector<float>{0.5f, 3, 2.5f, 0}));
  EXPECT_THROW(Scaffold(options, 1.0), fedsign::Error) << "SCAFFOLD averages over all its clients";
}

TEST(FedProx, SendsMuAndAggregatesLikeFedAvg) {
  StrategyOptions options;
  options.fit_config[keys::kLocalEpochs] = int64_t{2};
  FedProx prox(options, 0.25);
  FixedClientManager clients(5);
  const Weights global = make({0, 0}, {0});
  auto ins = prox.configure_fit(3, global, clients);
  ASSERT_EQ(ins.size(), 5u);
  EXPECT_EQ(get_double(ins[0].ins.config, keys::kProximalMu, -1), 0.25);
  EXPECT_EQ(get_int(ins[0].ins.config, keys::kLocalEpochs, -1), 2);
  EXPECT_EQ(get_int(ins[0].ins.config, keys::kRound, -1), 3);
  FedAvg fedavg(options);
  std::vector<FitResult> results = {result(0, make({1, 2}, {3}), 3), result(1, make({5, 6}, {7}), 1)};
  EXPECT_TRUE(equal(prox.aggregate_fit(1, global, results, {}).weights,
                    fedavg.aggregate_fit(1, global, results, {}).weights));
}

TEST(FedAvgM, MomentumStepsMatchHandComputation) {
  const Weights x = make({1.0f, 2.0f}, {5.0f});
  const Weights avg1 = make({1.5f, 1.0f}, {7.0f});  // delta = (0.5, -1)
  // Step 1: v = delta = (0.5, -1); x = x + 2 * v = (2, 0); running mean takes the average.
  MomentumStep s1 = fedavgm_step(x, avg1, {}, 2.0, 0.9);
  EXPECT_EQ(values(s1.global.tensors[0]), (std::vector<float>{2.0f, 0.0f}));
  EXPECT_EQ(values(s1.global.tensors[1]), (std::vector<float>{7.0f}));
  ASSERT_EQ(s1.velocity.size(), 1u);  // trainable tensors only
  // Step 2 from x = (2, 0) with avg (2.25, 0.5): delta = (0.25, 0.5);
  // v = 0.9 * (0.5, -1) + (0.25, 0.5) = (0.7, -0.4); x = (2, 0) + 2 * v = (3.4, -0.8).
  MomentumStep s2 = fedavgm_step(s1.global, make({2.25f, 0.5f}, {1.0f}), s1.velocity, 2.0, 0.9);
  const auto v = values(s2.global.tensors[0]);
  EXPECT_NEAR(v[0], 3.4, 1e-6);
  EXPECT_NEAR(v[1], -0.8, 1e-6);
  // Through the strategy (server_lr 1, momentum 0 is FedAvg).
  FedAvgM plain(StrategyOptions{}, 1.0, 0.0);
  auto r = plain.aggregate_fit(1, x, {result(0, avg1, 1)}, {});
  EXPECT_EQ(values(r.weights.tensors[0]), values(avg1.tensors[0]));
}

// One FedOpt step on delta = (0.5, -1) from m = 0, v = tau^2, by hand in double.
double fedopt_expected(FedOptKind kind, double x, double delta, const FedOptParams& p, double* v_out) {
  const double m = (1 - p.beta1) * delta;
  const double v0 = p.tau * p.tau, d2 = delta * delta;
  double v = 0;
  switch (kind) {
    case FedOptKind::kAdagrad: v = v0 + d2; break;
    case FedOptKind::kAdam: v = p.beta2 * v0 + (1 - p.beta2) * d2; break;
    case FedOptKind::kYogi: v = v0 - (1 - p.beta2) * d2 * (v0 - d2 > 0 ? 1 : v0 - d2 < 0 ? -1 : 0); break;
  }
  if (v_out) *v_out = v;
  return x + p.eta * m / (std::sqrt(v) + p.tau);
}

TEST(FedOpt, OneServerStepMatchesHandComputation) {
  const Weights x = make({1.0f, 2.0f}, {5.0f});
  const Weights avg = make({1.5f, 1.0f}, {7.0f});
  for (FedOptKind kind : {FedOptKind::kAdam, FedOptKind::kYogi, FedOptKind::kAdagrad}) {
    FedOptParams p;
    p.kind = kind;
    p.eta = 0.1;
    p.beta1 = 0.9;
    p.beta2 = 0.99;
    p.tau = 0.01;
    FedOptStep step = fedopt_step(x, avg, {}, p);
    const auto got = values(step.global.tensors[0]);
    double v0 = 0, v1 = 0;
    EXPECT_NEAR(got[0], fedopt_expected(kind, 1.0, 0.5, p, &v0), 1e-6) << static_cast<int>(kind);
    EXPECT_NEAR(got[1], fedopt_expected(kind, 2.0, -1.0, p, &v1), 1e-6) << static_cast<int>(kind);
    EXPECT_NEAR(values(step.state.m.tensors[0])[0], 0.05, 1e-7);
    EXPECT_NEAR(values(step.state.v.tensors[0])[1], v1, 1e-7);
    EXPECT_EQ(values(step.global.tensors[1]), (std::vector<float>{7.0f}));  // averaged, not stepped
  }
  // Adam, concretely: m = 0.05, v = 0.99e-4 + 0.0025 = 0.002599; x = 1 + 0.1*0.05/(0.05098+0.01).
  FedOptParams adam;
  adam.eta = 0.1;
  adam.tau = 0.01;
  EXPECT_NEAR(values(fedopt_step(x, avg, {}, adam).global.tensors[0])[0],
              1.0 + 0.1 * 0.05 / (std::sqrt(0.002599) + 0.01), 1e-6);
}

TEST(FedOpt, SecondStepUsesTheMoments) {
  FedOptParams p;
  p.kind = FedOptKind::kYogi;
  p.eta = 0.05;
  p.tau = 0.1;
  const Weights x0 = make({0.0f}, {0.0f});
  FedOptStep s1 = fedopt_step(x0, make({1.0f}, {0.0f}), {}, p);
  FedOptStep s2 = fedopt_step(s1.global, make({values(s1.global.tensors[0])[0] - 0.5f}, {0.0f}),
                              s1.state, p);
  // By hand: step 1: delta 1, m1 = 0.1, v1 = 0.01 - 0.01*1*sign(0.01-1) = 0.02.
  const double x1 = 0.05 * 0.1 / (std::sqrt(0.02) + 0.1);
  EXPECT_NEAR(values(s1.global.tensors[0])[0], x1, 1e-6);
  // step 2: delta -0.5, m2 = 0.09 - 0.05 = 0.04, v2 = 0.02 - 0.01*0.25*sign(0.02-0.25) = 0.0225.
  EXPECT_NEAR(values(s2.global.tensors[0])[0], x1 + 0.05 * 0.04 / (0.15 + 0.1), 1e-6);
  // The strategy keeps the state between rounds and exposes it for checkpoints.
  FedOpt strategy(StrategyOptions{}, p);
  EXPECT_TRUE(strategy.state().empty());
  strategy.aggregate_fit(1, x0, {result(0, make({1.0f}, {0.0f}), 1)}, {});
  ASSERT_EQ(strategy.state().count("m"), 1u);
  EXPECT_NEAR(values(strategy.state().at("v").tensors[0])[0], 0.02, 1e-7);
}

TEST(Sampling, CountsFractionsAndDeterminism) {
  FixedClientManager manager(100);
  StrategyOptions options;
  options.clients_per_round = 10;
  options.seed = 7;
  FedAvg fedavg(options);
  const Weights global = make({0}, {0});
  auto r1 = fedavg.configure_fit(1, global, manager);
  auto r1_again = fedavg.configure_fit(1, global, manager);
  auto r2 = fedavg.configure_fit(2, global, manager);
  ASSERT_EQ(r1.size(), 10u);
  std::vector<ClientId> a, b, c;
  for (auto& i : r1) a.push_back(i.client_id);
  for (auto& i : r1_again) b.push_back(i.client_id);
  for (auto& i : r2) c.push_back(i.client_id);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(std::set<ClientId>(a.begin(), a.end()).size(), 10u);
  // Instructions share the global tensors instead of copying them.
  EXPECT_TRUE(r1[0].ins.weights.tensors[0].is_same(global.tensors[0]));

  StrategyOptions fraction;
  fraction.fraction_fit = 0.05;
  fraction.min_fit_clients = 8;
  EXPECT_EQ(FedAvg(fraction).num_fit_clients(100), 8);
  fraction.min_fit_clients = 1;
  EXPECT_EQ(FedAvg(fraction).num_fit_clients(100), 5);
  EXPECT_EQ(FedAvg(fraction).num_fit_clients(3), 1);

  // Uniform: over many seeds every client is drawn about equally often.
  std::vector<int> hits(20, 0);
  for (uint64_t s = 0; s < 2000; ++s) {
    for (int64_t id : sample_without_replacement(20, 5, s)) ++hits[static_cast<std::size_t>(id)];
  }
  for (int h : hits) EXPECT_NEAR(h, 500, 90);
}

}  // namespace
}  // namespace fedsign::fl
