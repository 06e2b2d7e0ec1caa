// fl::FederationConfig -> strategy, the one builder both front doors use: each option reaches the
// strategy with one meaning.
#include "fedsign/fl/run/federation.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fedsign/core/check.h"
#include "fedsign/fl/client_manager.h"
#include "fedsign/fl/run/driver.h"

namespace fedsign::fl {
namespace {

Weights tiny(float value) {
  Weights w;
  w.names = {"w"};
  w.tensors = {torch::full({3}, value)};
  return w;
}

FitResult result(ClientId id, float value, int64_t n) {
  FitResult r;
  r.client_id = id;
  r.weights = tiny(value);
  r.num_examples = n;
  return r;
}

TEST(Federation, ProximalMuReachesOnlyFedProxClients) {
  FixedClientManager clients(4);
  FederationConfig c;
  c.proximal_mu = 0.5;
  c.strategy = "fedavg";
  for (const auto& ins : make_federation_strategy(c)->configure_fit(1, tiny(0), clients)) {
    EXPECT_EQ(ins.ins.config.count(keys::kProximalMu), 0u) << "FedAvg must not train with a proximal term";
  }
  c.strategy = "fedprox";
  for (const auto& ins : make_federation_strategy(c)->configure_fit(1, tiny(0), clients)) {
    EXPECT_DOUBLE_EQ(get_double(ins.ins.config, keys::kProximalMu, -1), 0.5);
  }
}

TEST(Federation, LocalInstructionsAndSampling) {
  FixedClientManager clients(10);
  FederationConfig c;
  c.clients_per_round = 3;
  c.local_steps = 7;
  c.lr = 0.1;
  c.round_schedule = "cosine";
  c.min_lr = 0.01;
  c.rounds = 4;
  auto strategy = make_federation_strategy(c);
  const auto first = strategy->configure_fit(1, tiny(0), clients);
  ASSERT_EQ(first.size(), 3u);
  EXPECT_EQ(get_int(first[0].ins.config, keys::kLocalSteps, 0), 7);
  EXPECT_DOUBLE_EQ(get_double(first[0].ins.config, keys::kLr, 0), 0.1);
  const auto last = strategy->configure_fit(4, tiny(0), clients);
  EXPECT_LT(get_double(last[0].ins.config, keys::kLr, 0), 0.1);
  EXPECT_GE(get_double(last[0].ins.config, keys::kLr, 0), 0.01);
  c.min_fit_clients = 5;
  EXPECT_EQ(make_federation_strategy(c)->configure_fit(1, tiny(0), clients).size(), 5u);
}

TEST(Federation, FewerResultsThanMinResultsKeepTheModel) {
  FederationConfig c;
  c.min_results = 2;
  for (const std::string name : {"fedavg", "fedadam"}) {
    c.strategy = name;
    auto strategy = make_federation_strategy(c);
    const Weights global = tiny(0);
    auto one = strategy->aggregate_fit(1, global, {result(0, 1.0f, 10)}, {});
    EXPECT_TRUE(equal(one.weights, global)) << name << ": one update of the two needed";
    auto two = strategy->aggregate_fit(1, global, {result(0, 1.0f, 10), result(1, 3.0f, 10)}, {});
    EXPECT_FALSE(equal(two.weights, global)) << name;
  }
  c.strategy = "fedavg";
  c.min_results = 0;
  EXPECT_THROW(make_federation_strategy(c), fedsign::Error);
}

TEST(Federation, RobustSettingsWrapTheStrategy) {
  // The median of updates 1, 1 and 100 is 1; the plain mean would be 34.
  FederationConfig c;
  c.strategy = "fedadam";
  c.robust.rule = "median";
  c.robust.clip_norm = 1e6;  // clipping outside, far from binding
  auto strategy = make_federation_strategy(c);
  EXPECT_EQ(strategy->name(), "fedadam+median+clip");
  c.strategy = "fedavg";
  c.robust.clip_norm = 0;
  auto median = make_federation_strategy(c);
  const auto r = median->aggregate_fit(
      1, tiny(0), {result(0, 1.0f, 10), result(1, 1.0f, 10), result(2, 100.0f, 10)}, {});
  EXPECT_TRUE(equal(r.weights, tiny(1.0f)));
  // FLTrust needs the server's root-set training.
  c.robust.rule = "fltrust";
  EXPECT_THROW(make_federation_strategy(c), fedsign::Error);
  EXPECT_EQ(make_federation_strategy(c, {},
                                     [](int64_t, const Weights& global, const Config&) {
                                       return global;
                                     })
                ->name(),
            "fedavg+fltrust");
  // The clients per round the robust check is given: the strategy's own sampling.
  c.clients_per_round = 0;
  c.fraction_fit = 0.3;
  EXPECT_EQ(federation_clients_per_round(c, 10), 3);
  c.min_fit_clients = 5;
  EXPECT_EQ(federation_clients_per_round(c, 10), 5);
  c.clients_per_round = 20;
  EXPECT_EQ(federation_clients_per_round(c, 10), 10);
}

TEST(Federation, EvaluationSchedule) {
  RunConfig run;
  run.rounds = 5;
  run.eval_every = 2;
  std::vector<bool> seen;
  for (int r = 1; r <= 5; ++r) seen.push_back(evaluates(run, r));
  EXPECT_EQ(seen, (std::vector<bool>{false, true, false, true, true}));
  run.eval_every = 0;
  seen.clear();
  for (int r = 1; r <= 5; ++r) seen.push_back(evaluates(run, r));
  EXPECT_EQ(seen, (std::vector<bool>{false, false, false, false, true}));
}

TEST(Federation, SettingsCheckNamesWhatChanged) {
  EXPECT_NO_THROW(check_same_settings(R"({"a":"1","b":"2"})", R"({"b":"2","a":"1"})", "x.ckpt"));
  try {
    check_same_settings(R"({"a":"1","b":"2"})", R"({"a":"1","b":"3","c":"4"})", "x.ckpt");
    FAIL() << "expected an error";
  } catch (const fedsign::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("x.ckpt"), std::string::npos) << what;
    EXPECT_NE(what.find("b, c"), std::string::npos) << what;
    EXPECT_EQ(what.find("a,"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace fedsign::fl
