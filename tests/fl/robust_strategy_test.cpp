// The robust Strategy wrappers (fl/robust/robust_strategy.h, clipping_strategy.h, wrap_robust.h):
// they compose with the inner strategy's server optimizer (FedAdam applied to the robust
// combination computed by hand), keep integer buffers, bound and report buffered memory, keep the
// model when a round has too few updates for Krum, respect the inner min_results, hand FLTrust
// the round's fit config, clip while streaming, adapt and checkpoint the clipping bound, remember
// (and checkpoint) the clients the cosine filter caught, after one drop or after strikes, drop
// what its label test flags, check a configuration against the
// clients per round, and delegate the rest.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "fedsign/core/check.h"
#include "fedsign/fl/strategy/aggregate.h"
#include "fedsign/fl/strategy/fedavg.h"
#include "fedsign/fl/strategy/fedopt.h"
#include "fedsign/fl/robust/wrap_robust.h"

namespace fedsign::fl::robust {
namespace {

// A "model": two trainable values, a BN running mean and the BN batch counter.
Weights make(float w0, float w1, float running_mean, int64_t batches) {
  Weights out;
  out.names = {"layer.weight", "bn.running_mean", "bn.num_batches_tracked"};
  out.tensors = {torch::tensor({w0, w1}), torch::tensor({running_mean}), torch::tensor(batches)};
  return out;
}

FitResult result(ClientId id, Weights w, int64_t n) {
  FitResult r;
  r.client_id = id;
  r.weights = std::move(w);
  r.num_examples = n;
  r.metrics["train_loss"] = static_cast<double>(id);
  return r;
}

std::vector<float> values(const torch::Tensor& t) {
  auto c = t.to(torch::kFloat32).contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

FedOptParams adam() {
  FedOptParams p = default_fedopt_params(FedOptKind::kAdam);
  p.eta = 0.1;
  p.tau = 0.01;
  return p;
}

const Weights kGlobal = make(1, 2, 0.5f, 10);

// Deltas from kGlobal: (1, 0 | 0.5), (0, 3 | 0), (3, -2 | 2); examples 1, 1, 2.
std::vector<FitResult> three_results() {
  return {result(0, make(2, 2, 1.0f, 12), 1), result(1, make(1, 5, 0.5f, 14), 1),
          result(2, make(4, 0, 2.5f, 13), 2)};
}

TEST(RobustStrategy, MedianComposesWithFedAdam) {
  // Median delta (1, 0 | 0.5); integers: example-weighted mean (12 + 14 + 2*13) / 4 = 13.
  const Weights robust_mean = make(2, 2, 1.0f, 13);
  RobustStrategy strategy(std::make_unique<FedOpt>(StrategyOptions{}, adam()),
                          BufferedRuleOptions{BufferedRule::kMedian});
  EXPECT_EQ(strategy.name(), "fedadam+median");
  AggregateFitResult r1 = strategy.aggregate_fit(1, kGlobal, three_results(), {});
  const FedOptStep step1 = fedopt_step(kGlobal, robust_mean, {}, adam());
  EXPECT_LT(max_abs_diff(r1.weights, step1.global), 1e-7);
  EXPECT_EQ(r1.weights.tensors[2].item<int64_t>(), 13);
  EXPECT_EQ(r1.metrics.at("num_results"), 3);
  EXPECT_DOUBLE_EQ(r1.metrics.at("train_loss"), (0 * 1 + 1 * 1 + 2 * 2) / 4.0);
  EXPECT_EQ(r1.metrics.at("robust_buffer_bytes"), 3 * 3 * 4);  // 3 updates x 3 floats
  // The inner optimizer's moments carry over: round 2 equals a second hand-driven step.
  ASSERT_EQ(strategy.state().count("m"), 1u);
  std::vector<FitResult> again = {result(0, r1.weights, 5)};
  AggregateFitResult r2 = strategy.aggregate_fit(2, r1.weights, again, {});
  const FedOptStep step2 = fedopt_step(step1.global, step1.global, step1.state, adam());
  EXPECT_LT(max_abs_diff(r2.weights, step2.global), 1e-7);
}

TEST(RobustStrategy, TrimmedMeanKrumAndFlTrustThroughFedAvg) {
  // FedAvg applies the robust update as it is: global + combination.
  BufferedRuleOptions trimmed{BufferedRule::kTrimmedMean};
  trimmed.trim_beta = 0.34;  // k = 1 of 3: the median
  RobustStrategy t(std::make_unique<FedAvg>(StrategyOptions{}), trimmed);
  EXPECT_LT(max_abs_diff(t.aggregate_fit(1, kGlobal, three_results(), {}).weights,
                         make(2, 2, 1.0f, 13)),
            1e-7);

  // Krum with f = 0 over 3 updates: 1 neighbour each; squared distances 0-1: 1+9+0.25 = 10.25,
  // 0-2: 4+4+2.25 = 10.25, 1-2: 9+25+4 = 38 -> scores 10.25, 10.25, 10.25: ties keep the first.
  BufferedRuleOptions krum{BufferedRule::kMultiKrum};
  krum.krum_f = 0;
  krum.krum_m = 1;
  RobustStrategy k(std::make_unique<FedAvg>(StrategyOptions{}), krum);
  AggregateFitResult kr = k.aggregate_fit(1, kGlobal, three_results(), {});
  EXPECT_EQ(values(kr.weights.tensors[0]), (std::vector<float>{2, 2}));
  EXPECT_EQ(kr.metrics.at("robust_selected"), 1);

  // FLTrust with a server update (1, 0 | 0): trust of (1,0|.5) = 1/sqrt(1.25), rescaled to norm
  // 1; (0,3|0) has trust 0; (3,-2|2) has cos 3/sqrt(17) -> rescaled by 1/sqrt(17).
  BufferedRuleOptions trust{BufferedRule::kFlTrust};
  int calls = 0;
  double lr_seen = 0;
  trust.server_update = [&](int64_t round, const Weights& global, const Config& fit_config) {
    ++calls;
    EXPECT_EQ(round, 4);
    lr_seen = get_double(fit_config, keys::kLr, 0);
    return make(values(global.tensors[0])[0] + 1, values(global.tensors[0])[1], 0.5f, 10);
  };
  StrategyOptions with_lr;
  with_lr.fit_config[keys::kLr] = 0.25;
  RobustStrategy f(std::make_unique<FedAvg>(with_lr), trust);
  FixedClientManager three(3);
  ASSERT_EQ(f.configure_fit(4, kGlobal, three).size(), 3u);  // the round's instructions
  AggregateFitResult fr = f.aggregate_fit(4, kGlobal, three_results(), {});
  EXPECT_EQ(calls, 1);
  EXPECT_DOUBLE_EQ(lr_seen, 0.25);  // the server trains with the clients' learning rate
  const double t0 = 1 / std::sqrt(1.25), t2 = 3 / std::sqrt(17.0);
  const double x = (t0 * 1 / std::sqrt(1.25) + t2 * 3 / std::sqrt(17.0)) / (t0 + t2);
  const double y = (t2 * -2 / std::sqrt(17.0)) / (t0 + t2);
  const auto w = values(fr.weights.tensors[0]);
  EXPECT_NEAR(w[0], 1 + x, 1e-6);
  EXPECT_NEAR(w[1], 2 + y, 1e-6);
  EXPECT_EQ(fr.metrics.at("robust_trusted"), 2);
  EXPECT_THROW(RobustStrategy(std::make_unique<FedAvg>(StrategyOptions{}),
                              BufferedRuleOptions{BufferedRule::kFlTrust}),
               fedsign::Error);  // no server update
}

TEST(RobustStrategy, BufferIsBoundedAndReported) {
  BufferedRuleOptions options{BufferedRule::kMedian};
  options.max_buffered_updates = 2;
  FedAvg inner(StrategyOptions{});
  RobustStrategy strategy(inner, options);  // borrowed inner strategy
  auto aggregation = strategy.begin_aggregate_fit(1, kGlobal);
  auto results = three_results();
  aggregation->add(results[0]);
  aggregation->add(result(7, kGlobal, 0));  // no examples: skipped, not buffered
  aggregation->add(results[1]);
  EXPECT_THROW(aggregation->add(results[2]), fedsign::Error);
  AggregateFitResult r = aggregation->finish({});
  EXPECT_EQ(r.metrics.at("robust_buffered_updates"), 2);
  EXPECT_EQ(r.metrics.at("robust_buffer_bytes"), 2 * 3 * 4);
  // Median of two = mean: (1.5, 3.5 | 0.75).
  EXPECT_EQ(values(r.weights.tensors[0]), (std::vector<float>{1.5f, 3.5f}));
  // A round without results keeps the model.
  EXPECT_TRUE(equal(strategy.aggregate_fit(2, kGlobal, {}, {{3, "gone"}}).weights, kGlobal));
}

TEST(RobustStrategy, TooFewForKrumKeepsTheModelAndMinResultsHolds) {
  // Krum with f = 1 needs 4 updates: 3 (e.g. after dropouts) keep the model, flagged.
  BufferedRuleOptions krum{BufferedRule::kMultiKrum};
  krum.krum_f = 1;
  RobustStrategy k(std::make_unique<FedAvg>(StrategyOptions{}), krum);
  AggregateFitResult r = k.aggregate_fit(1, kGlobal, three_results(), {});
  EXPECT_TRUE(equal(r.weights, kGlobal));
  EXPECT_EQ(r.metrics.at("robust_too_few"), 1);
  EXPECT_EQ(r.metrics.at("num_results"), 3);
  // The inner strategy's min_results counts the real updates, not one combined result:
  // 3 results against min_results 3 aggregate, against 4 keep the model.
  StrategyOptions three;
  three.min_results = 3;
  RobustStrategy enough(std::make_unique<FedAvg>(three), BufferedRuleOptions{BufferedRule::kMedian});
  EXPECT_LT(max_abs_diff(enough.aggregate_fit(1, kGlobal, three_results(), {}).weights,
                         make(2, 2, 1.0f, 13)),
            1e-7);
  StrategyOptions four;
  four.min_results = 4;
  RobustStrategy short_of(std::make_unique<FedAvg>(four), BufferedRuleOptions{BufferedRule::kMedian});
  EXPECT_TRUE(equal(short_of.aggregate_fit(1, kGlobal, three_results(), {}).weights, kGlobal));
}

TEST(ClippingStrategy, ClipsWhileStreamingAndAdaptsTheBound) {
  // Deltas (3, 4) and (0.3, 0.4) with bound 1: (0.6, 0.8) and (0.3, 0.4); mean (0.45, 0.6).
  ClipOptions options;
  options.bound = 1.0;
  options.adaptive = true;
  options.target_quantile = 0.2;
  ClippingStrategy strategy(std::make_unique<FedOpt>(StrategyOptions{}, adam()), options);
  std::vector<FitResult> results = {result(0, make(4, 6, 0.5f, 11), 1),
                                    result(1, make(1.3f, 2.4f, 0.5f, 11), 1)};
  AggregateFitResult r = strategy.aggregate_fit(1, kGlobal, results, {});
  const FedOptStep expected = fedopt_step(kGlobal, make(1.45f, 2.6f, 0.5f, 11), {}, adam());
  EXPECT_LT(max_abs_diff(r.weights, expected.global), 1e-6);
  EXPECT_DOUBLE_EQ(r.metrics.at("clip_fraction_clipped"), 0.5);
  EXPECT_NEAR(r.metrics.at("clip_mean_norm"), 2.75, 1e-6);  // (5 + 0.5) / 2
  EXPECT_DOUBLE_EQ(r.metrics.at("clip_bound"), 1.0);
  // Half unclipped against a target of 20%: C = exp(-0.2 (0.5 - 0.2)).
  EXPECT_NEAR(strategy.bound(), std::exp(-0.06), 1e-12);
  // The bound is checkpointed beside the inner strategy's moments.
  auto state = strategy.state();
  EXPECT_EQ(state.count("clip.bound"), 1u);
  EXPECT_EQ(state.count("m"), 1u);
  ClippingStrategy restored(std::make_unique<FedOpt>(StrategyOptions{}, adam()), options);
  restored.load_state(state);
  EXPECT_DOUBLE_EQ(restored.bound(), strategy.bound());
  EXPECT_EQ(restored.inner().state().count("v"), 1u);
}

// One round of the memory tests: clients 0 and 1 send (2, 2 | 0.5) and (2, 2.2 | 0.5) (deltas
// (1, 0 | 0) and (1, 0.2 | 0) from kGlobal), client 2 (third_w0, third_w1 | 0.5): with
// third_w0 = 0 its delta points away from the round's median.
AggregateFitResult third_client_round(RobustStrategy& strategy, int64_t round, float third_w0,
                                      float third_w1 = 2) {
  std::vector<FitResult> results = {result(0, make(2, 2, 0.5f, 10), 1),
                                    result(1, make(2, 2.2f, 0.5f, 10), 1),
                                    result(2, make(third_w0, third_w1, 0.5f, 10), 1)};
  return strategy.aggregate_fit(round, kGlobal, results, {});
}

TEST(RobustStrategy, CosineMemoryKeepsACaughtClientOutAndIsCheckpointed) {
  // Round 1: deltas (1, 0 | 0), (1, 0.2 | 0), (-1, 0 | 0) from clients 0, 1, 2; the median
  // (1, 0 | 0) drops client 2. Round 2: client 2 sends (1, 0.4 | 0), along the others, but it was
  // caught: with memory the mean of clients 0 and 1 (w1 = 2.1), without it of all three (2.2).
  BufferedRuleOptions options;
  options.rule = BufferedRule::kCosineFilter;
  options.cosine_memory = true;
  RobustStrategy strategy(std::make_unique<FedAvg>(StrategyOptions{}), options);
  AggregateFitResult first = third_client_round(strategy, 1, 0);
  EXPECT_DOUBLE_EQ(first.metrics.at("robust_selected"), 2);
  EXPECT_NEAR(values(first.weights.tensors[0])[1], 2.1, 1e-6);
  AggregateFitResult second = third_client_round(strategy, 2, 2, 2.4f);
  EXPECT_DOUBLE_EQ(second.metrics.at("robust_selected"), 2);
  EXPECT_NEAR(values(second.weights.tensors[0])[0], 2.0, 1e-6);
  EXPECT_NEAR(values(second.weights.tensors[0])[1], 2.1, 1e-6);
  // Restored from the checkpointed state, the server still remembers client 2.
  RobustStrategy restored(std::make_unique<FedAvg>(StrategyOptions{}), options);
  restored.load_state(strategy.state());
  EXPECT_DOUBLE_EQ(third_client_round(restored, 3, 2, 2.4f).metrics.at("robust_selected"), 2);
  // Without memory the same second round keeps all three.
  options.cosine_memory = false;
  RobustStrategy forgetful(std::make_unique<FedAvg>(StrategyOptions{}), options);
  third_client_round(forgetful, 1, 0);
  AggregateFitResult again = third_client_round(forgetful, 2, 2, 2.4f);
  EXPECT_DOUBLE_EQ(again.metrics.at("robust_selected"), 3);
  EXPECT_NEAR(values(again.weights.tensors[0])[1], 2.2, 1e-6);
}

TEST(RobustStrategy, CosineStrikesForgiveOneDropAndAreCheckpointed) {
  // Client 2 points away in round 1 (dropped, first strike), along the others in round 2 (kept:
  // one strike is forgiven), away again in round 3 (second strike: caught), and along them in
  // round 4 (kept out). A server restored after round 1 remembers the strike.
  BufferedRuleOptions options;
  options.rule = BufferedRule::kCosineFilter;
  options.cosine_memory = true;
  options.cosine_strikes = 2;
  RobustStrategy strategy(std::make_unique<FedAvg>(StrategyOptions{}), options);
  // Delta (-1, 0): away from the median (1, 0.2 | 0).
  Metrics m = third_client_round(strategy, 1, 0).metrics;
  EXPECT_DOUBLE_EQ(m.at("robust_selected"), 2);
  EXPECT_DOUBLE_EQ(m.at("robust_caught_clients"), 0);
  RobustStrategy restored(std::make_unique<FedAvg>(StrategyOptions{}), options);
  restored.load_state(strategy.state());
  for (RobustStrategy* s : {&strategy, &restored}) {
    EXPECT_DOUBLE_EQ(third_client_round(*s, 2, 2).metrics.at("robust_selected"), 3);
    m = third_client_round(*s, 3, 0).metrics;
    EXPECT_DOUBLE_EQ(m.at("robust_caught_clients"), 1);
    EXPECT_DOUBLE_EQ(third_client_round(*s, 4, 2).metrics.at("robust_selected"), 2);
  }
  options.cosine_strikes = 0;
  EXPECT_THROW(RobustStrategy(std::make_unique<FedAvg>(StrategyOptions{}), options),
               fedsign::Error);
}

TEST(RobustStrategy, CosineDropShareForgivesLateDropsAndIsCheckpointed) {
  // One strike and a drop share of 0.5: client 2 points along the others in rounds 1 and 2,
  // away in round 3 (dropped in 1 of its 3 rounds: not caught, where one strike alone would
  // catch it) and in round 4 (2 of 4: caught), and is kept out in round 5 though it points along
  // them again. A server restored after round 3 remembers its rounds. Client 3, dropped in its
  // first round (1 of 1), is caught at once.
  BufferedRuleOptions options;
  options.rule = BufferedRule::kCosineFilter;
  options.cosine_memory = true;
  options.cosine_drop_share = 0.5;
  RobustStrategy strategy(std::make_unique<FedAvg>(StrategyOptions{}), options);
  EXPECT_DOUBLE_EQ(third_client_round(strategy, 1, 2).metrics.at("robust_selected"), 3);
  EXPECT_DOUBLE_EQ(third_client_round(strategy, 2, 2).metrics.at("robust_selected"), 3);
  Metrics m = third_client_round(strategy, 3, 0).metrics;
  EXPECT_DOUBLE_EQ(m.at("robust_selected"), 2);
  EXPECT_DOUBLE_EQ(m.at("robust_caught_clients"), 0);
  RobustStrategy restored(std::make_unique<FedAvg>(StrategyOptions{}), options);
  restored.load_state(strategy.state());
  for (RobustStrategy* s : {&strategy, &restored}) {
    EXPECT_DOUBLE_EQ(third_client_round(*s, 4, 0).metrics.at("robust_caught_clients"), 1);
    EXPECT_DOUBLE_EQ(third_client_round(*s, 5, 2).metrics.at("robust_selected"), 2);
  }
  std::vector<FitResult> first = {result(0, make(2, 2, 0.5f, 10), 1),
                                  result(1, make(2, 2.2f, 0.5f, 10), 1),
                                  result(3, make(0, 2, 0.5f, 10), 1)};
  EXPECT_DOUBLE_EQ(strategy.aggregate_fit(6, kGlobal, first, {}).metrics.at("robust_caught_clients"),
                   2);
  options.cosine_drop_share = 1.5;
  EXPECT_THROW(RobustStrategy(std::make_unique<FedAvg>(StrategyOptions{}), options),
               fedsign::Error);
}

TEST(RobustStrategy, LabelTestDropsAModelThatNamesTheWrongClasses) {
  // Three updates along each other (the cosine filter keeps all); the "root set" is four images
  // of classes 0, 0, 1, 1, and a model whose w1 exceeds 2.5 labels them 1, 1, 0, 0 (a label
  // flipper's model): client 2 (w1 2.6) scores 0 against the round's median 1 and is dropped,
  // the mean of clients 0 and 1 (w1 2.1) is left, and with memory client 2 stays caught.
  BufferedRuleOptions options;
  options.rule = BufferedRule::kCosineFilter;
  options.cosine_memory = true;
  options.label_test_ratio = 0.5;
  int calls = 0;
  options.root_labels = [&calls](const Weights& model) {
    ++calls;
    const bool flipped = values(model.tensors[0])[1] > 2.5f;
    return RootLabels{{0, 0, 1, 1}, flipped ? std::vector<int>{1, 1, 0, 0} : std::vector<int>{0, 0, 1, 1}};
  };
  RobustStrategy strategy(std::make_unique<FedAvg>(StrategyOptions{}), options);
  std::vector<FitResult> results = {result(0, make(2, 2, 0.5f, 10), 1),
                                    result(1, make(2, 2.2f, 0.5f, 10), 1),
                                    result(2, make(2, 2.6f, 0.5f, 10), 1)};
  AggregateFitResult r = strategy.aggregate_fit(1, kGlobal, results, {});
  EXPECT_EQ(calls, 3);
  EXPECT_DOUBLE_EQ(r.metrics.at("robust_label_dropped"), 1);
  EXPECT_DOUBLE_EQ(r.metrics.at("robust_label_recall"), 1);
  EXPECT_DOUBLE_EQ(r.metrics.at("robust_selected"), 2);
  EXPECT_DOUBLE_EQ(r.metrics.at("robust_caught_clients"), 1);
  EXPECT_NEAR(values(r.weights.tensors[0])[1], 2.1, 1e-6);
  // Without the test all three are kept: (2 + 2.2 + 2.6) / 3.
  options.label_test_ratio = 0;
  RobustStrategy plain(std::make_unique<FedAvg>(StrategyOptions{}), options);
  EXPECT_NEAR(values(plain.aggregate_fit(1, kGlobal, results, {}).weights.tensors[0])[1],
              6.8 / 3, 1e-6);
  // The test needs the root set, and belongs to the cosine filter.
  options.label_test_ratio = 0.5;
  options.root_labels = nullptr;
  EXPECT_THROW(RobustStrategy(std::make_unique<FedAvg>(StrategyOptions{}), options),
               fedsign::Error);
  options.root_labels = [](const Weights&) { return RootLabels{}; };
  options.rule = BufferedRule::kMedian;
  EXPECT_THROW(RobustStrategy(std::make_unique<FedAvg>(StrategyOptions{}), options),
               fedsign::Error);
}

TEST(RobustStrategy, StrikesFromTheLabelTestAloneLeaveTheCosineTestsDropsUncounted) {
  // One strike, the label test on (a model with w1 > 2.5 names the wrong classes). Round 1:
  // client 2 points away from the median (the cosine test drops it) but labels right. Counting
  // any test's drops that catches it; counting the label test's alone it is back in round 2.
  // Round 3: its model names the wrong classes (w1 2.6): caught, and kept out in round 4.
  BufferedRuleOptions options;
  options.rule = BufferedRule::kCosineFilter;
  options.cosine_memory = true;
  options.label_test_ratio = 0.5;
  options.root_labels = [](const Weights& model) {
    const bool flipped = values(model.tensors[0])[1] > 2.5f;
    return RootLabels{{0, 0, 1, 1}, flipped ? std::vector<int>{1, 1, 0, 0} : std::vector<int>{0, 0, 1, 1}};
  };
  RobustStrategy any_test(std::make_unique<FedAvg>(StrategyOptions{}), options);
  EXPECT_DOUBLE_EQ(third_client_round(any_test, 1, 0).metrics.at("robust_caught_clients"), 1);
  EXPECT_DOUBLE_EQ(third_client_round(any_test, 2, 2, 2.4f).metrics.at("robust_selected"), 2);

  options.strikes_from_label_test = true;
  RobustStrategy label_only(std::make_unique<FedAvg>(StrategyOptions{}), options);
  Metrics m = third_client_round(label_only, 1, 0).metrics;
  EXPECT_DOUBLE_EQ(m.at("robust_selected"), 2);  // still dropped in its round
  EXPECT_DOUBLE_EQ(m.at("robust_caught_clients"), 0);
  EXPECT_DOUBLE_EQ(third_client_round(label_only, 2, 2, 2.4f).metrics.at("robust_selected"), 3);
  m = third_client_round(label_only, 3, 2, 2.6f).metrics;
  EXPECT_DOUBLE_EQ(m.at("robust_label_dropped"), 1);
  EXPECT_DOUBLE_EQ(m.at("robust_caught_clients"), 1);
  EXPECT_DOUBLE_EQ(third_client_round(label_only, 4, 2, 2.4f).metrics.at("robust_selected"), 2);
  // Without the label test there is nothing to count: refused.
  options.label_test_ratio = 0;
  EXPECT_THROW(RobustStrategy(std::make_unique<FedAvg>(StrategyOptions{}), options),
               fedsign::Error);
}

TEST(ClippingStrategy, WithoutAnInitialBoundTheFirstRoundsNormsSetIt) {
  // Delta norms 5, 0.5 and 13 (deltas (3, 4), (0.3, 0.4), (5, 12)); target quantile 0.5: the
  // bound is the 2nd smallest norm, 5. Clipped deltas (3, 4), (0.3, 0.4), (25/13, 60/13).
  ClipOptions options;
  options.bound = 0.0;
  options.adaptive = true;
  options.max_first_round_updates = 3;
  ClippingStrategy strategy(std::make_unique<FedAvg>(StrategyOptions{}), options);
  EXPECT_TRUE(strategy.state().empty());  // no bound to checkpoint yet
  std::vector<FitResult> results = {result(0, make(4, 6, 0.5f, 11), 1),
                                    result(1, make(1.3f, 2.4f, 0.5f, 11), 1),
                                    result(2, make(6, 14, 0.5f, 11), 1)};
  AggregateFitResult r = strategy.aggregate_fit(1, kGlobal, results, {});
  EXPECT_DOUBLE_EQ(r.metrics.at("clip_bound"), 5.0);
  EXPECT_NEAR(r.metrics.at("clip_fraction_clipped"), 1.0 / 3.0, 1e-12);
  const float dx = (3.0f + 0.3f + 25.0f / 13) / 3, dy = (4.0f + 0.4f + 60.0f / 13) / 3;
  const auto w = values(r.weights.tensors[0]);
  EXPECT_NEAR(w[0], 1 + dx, 1e-5);
  EXPECT_NEAR(w[1], 2 + dy, 1e-5);
  // Two of three unclipped against a target of 1/2: C = 5 exp(-0.2 (2/3 - 1/2)), and from now
  // on it streams.
  EXPECT_NEAR(strategy.bound(), 5.0 * std::exp(-0.2 / 6), 1e-12);
  EXPECT_EQ(strategy.state().count("clip.bound"), 1u);
  // A first round with more results than it may hold is refused, naming the limit.
  ClippingStrategy small(std::make_unique<FedAvg>(StrategyOptions{}), options);
  results.push_back(result(3, make(2, 2, 0.5f, 11), 1));
  EXPECT_THROW(small.aggregate_fit(1, kGlobal, results, {}), fedsign::Error);
}

TEST(WrapRobust, NamesCompositionAndErrors) {
  const auto names = robust_rule_names();
  EXPECT_EQ(names.front(), "none");
  EXPECT_TRUE(robust_rule_buffers("median"));
  EXPECT_FALSE(robust_rule_buffers("none"));
  auto fedavg = [] { return std::make_unique<FedAvg>(StrategyOptions{}); };
  EXPECT_EQ(wrap_robust(fedavg(), {})->name(), "fedavg");
  RobustOptions median;
  median.rule = "median";
  median.clip_norm = 2.0;  // clip first, then the median
  auto wrapped = wrap_robust(fedavg(), median);
  EXPECT_EQ(wrapped->name(), "fedavg+median+clip");
  // Update (3,4|0) clipped to norm 2 -> (1.2, 1.6); the median of three equal updates is it.
  std::vector<FitResult> same;
  for (int i = 0; i < 3; ++i) same.push_back(result(i, make(4, 6, 0.5f, 10), 1));
  EXPECT_EQ(values(wrapped->aggregate_fit(1, kGlobal, same, {}).weights.tensors[0]),
            (std::vector<float>{2.2f, 3.6f}));
  RobustOptions krum;
  krum.rule = "krum";
  krum.krum_f = 0;
  EXPECT_EQ(wrap_robust(fedavg(), krum)->name(), "fedavg+krum");
  krum.rule = "multi-krum";
  EXPECT_EQ(wrap_robust(fedavg(), krum)->name(), "fedavg+multi-krum");
  // Delegation: the wrapper samples exactly as the inner strategy.
  StrategyOptions sampled;
  sampled.clients_per_round = 3;
  sampled.seed = 5;
  FixedClientManager clients(20);
  auto plain = std::make_unique<FedAvg>(sampled)->configure_fit(2, kGlobal, clients);
  auto robust = wrap_robust(std::make_unique<FedAvg>(sampled), median)->configure_fit(2, kGlobal, clients);
  ASSERT_EQ(plain.size(), robust.size());
  for (std::size_t i = 0; i < plain.size(); ++i) EXPECT_EQ(plain[i].client_id, robust[i].client_id);

  RobustOptions bad;
  bad.rule = "mediane";
  EXPECT_THROW(wrap_robust(fedavg(), bad), fedsign::Error);
  bad.rule = "fltrust";  // no root-set update
  EXPECT_THROW(wrap_robust(fedavg(), bad), fedsign::Error);
  RobustOptions strikes;
  strikes.rule = "cosine-filter";
  strikes.cosine_memory = true;
  strikes.cosine_strikes_from = "cosine";  // neither any nor label
  EXPECT_THROW(wrap_robust(fedavg(), strikes), fedsign::Error);
  strikes.cosine_strikes_from = "label";  // without the label test
  EXPECT_THROW(wrap_robust(fedavg(), strikes), fedsign::Error);
  RobustOptions clip;
  clip.clip_norm = 1.0;  // clipping alone wraps the streaming mean
  EXPECT_EQ(wrap_robust(fedavg(), clip)->name(), "fedavg+clip");
  RobustOptions adaptive;
  adaptive.adaptive_clip = true;  // no initial bound: round 1's norms set it
  auto adaptive_strategy = wrap_robust(fedavg(), adaptive);
  EXPECT_EQ(adaptive_strategy->name(), "fedavg+adaptive-clip");
  EXPECT_DOUBLE_EQ(dynamic_cast<ClippingStrategy&>(*adaptive_strategy).bound(), 0.0);
  EXPECT_FALSE(robust_enabled(RobustOptions{}));
  EXPECT_TRUE(robust_enabled(adaptive));
  EXPECT_THROW(wrap_robust(make_strategy("scaffold", StrategyOptions{}), median), fedsign::Error);
}

TEST(WrapRobust, CheckRobustRoundNamesTheOption) {
  RobustOptions krum;
  krum.rule = "krum";
  krum.krum_f = 1;
  EXPECT_NO_THROW(check_robust_round(krum, 4));
  try {
    check_robust_round(krum, 3);
    ADD_FAILURE() << "3 clients per round are too few for Krum with f = 1";
  } catch (const fedsign::Error& e) {
    EXPECT_NE(std::string(e.what()).find("--krum-f 1 needs at least 4 clients per round"),
              std::string::npos)
        << e.what();
  }
  krum.rule = "multi-krum";
  krum.krum_m = 5;
  EXPECT_THROW(check_robust_round(krum, 4), fedsign::Error);  // m > n
  RobustOptions median;
  median.rule = "median";
  median.max_buffered_updates = 10;
  EXPECT_NO_THROW(check_robust_round(median, 10));
  EXPECT_THROW(check_robust_round(median, 11), fedsign::Error);
  median.rule = "none";  // the streaming mean holds nothing
  EXPECT_NO_THROW(check_robust_round(median, 1000));
}

}  // namespace
}  // namespace fedsign::fl::robust
