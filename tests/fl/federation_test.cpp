// fl::FederationConfig -> strategy, the one builder both front doors use: each option reaches the
// strategy with one meaning; with DP on, the strategy is wrapped and its noise multiplier solved.
#include "fedsign/fl/run/federation.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fedsign/core/check.h"
#include "fedsign/fl/client_manager.h"
#include "fedsign/fl/privacy/dp_fedavg.h"
#include "fedsign/fl/privacy/rdp_accountant.h"
#include "fedsign/fl/run/driver.h"
#include "tests/testing/errors.h"

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
  robust::ServerRoot root;
  root.update = [](int64_t, const Weights& global, const Config&) { return global; };
  EXPECT_EQ(make_federation_strategy(c, {}, root)->name(), "fedavg+fltrust");
  // So does the cosine filter's label test: its root-set labels, given beside the root update.
  c.robust.rule = "cosine-filter";
  c.robust.label_test_ratio = 0.5;
  EXPECT_THROW(make_federation_strategy(c), fedsign::Error);
  EXPECT_THROW(make_federation_strategy(c, {}, root), fedsign::Error);  // FLTrust's half only
  root.labels = [](const Weights&) { return robust::RootLabels{}; };
  EXPECT_EQ(make_federation_strategy(c, {}, root)->name(), "fedavg+cosine-filter");
  c.robust.label_test_ratio = 0;
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
  // A key the saved settings lack (an option added since) passes at its current default only.
  const std::string defaults = R"({"a":"0","b":"0","c":"4"})";
  EXPECT_NO_THROW(check_same_settings(R"({"a":"1"})", R"({"a":"1","c":"4"})", "x.ckpt", defaults));
  EXPECT_THROW(check_same_settings(R"({"a":"1"})", R"({"a":"1","c":"5"})", "x.ckpt", defaults),
               fedsign::Error);
  EXPECT_THROW(check_same_settings(R"({"a":"1"})", R"({"a":"1","c":"4"})", "x.ckpt"),
               fedsign::Error);  // no defaults known
  // A changed value is a change even when the new one is the default.
  EXPECT_THROW(check_same_settings(R"({"a":"1","c":"3"})", R"({"a":"1","c":"4"})", "x.ckpt", defaults),
               fedsign::Error);
  // A key gone from the current settings (an option removed) is a change.
  EXPECT_THROW(check_same_settings(R"({"a":"1","c":"4"})", R"({"a":"1"})", "x.ckpt", defaults),
               fedsign::Error);
}

FederationConfig dp_config(const std::string& mode) {
  FederationConfig c;
  c.num_clients = 10;
  c.clients_per_round = 3;
  c.dp_mode = mode;
  c.dp.noise_multiplier = 1.0;
  c.dp.clip = 0.5;
  return c;
}

TEST(Federation, DpWrapsTheStrategyAndInstructsTheClients) {
  FixedClientManager clients(10);
  for (const std::string mode : {"central", "distributed"}) {
    const FederationConfig c = dp_config(mode);
    auto strategy = make_federation_strategy(c);
    EXPECT_EQ(strategy->name(), "dp-fedavg");
    const auto* dp = dynamic_cast<const privacy::DpFedAvg*>(strategy.get());
    ASSERT_NE(dp, nullptr);
    EXPECT_EQ(privacy::to_string(dp->options().mode), mode);
    EXPECT_EQ(dp->options().seed, c.seed) << "the wrapper samples from the federation's seed";
    EXPECT_DOUBLE_EQ(dp->options().noise_multiplier, 1.0) << "given, so not solved";
    const auto fit = strategy->configure_fit(1, tiny(0), clients);
    ASSERT_EQ(fit.size(), 3u);
    EXPECT_EQ(get_string(fit[0].ins.config, privacy::dp_keys::kMode, ""), mode);
    EXPECT_DOUBLE_EQ(get_double(fit[0].ins.config, privacy::dp_keys::kClip, 0), 0.5);
    EXPECT_EQ(fit[0].ins.config.count(privacy::dp_keys::kClientNoise), mode == "distributed" ? 1u : 0u);
  }
  FederationConfig off = dp_config("off");
  EXPECT_EQ(make_federation_strategy(off)->name(), "fedavg");
  off.dp_mode = "local";
  EXPECT_ERROR(make_federation_strategy(off), "unknown --dp mode 'local'");
}

TEST(Federation, DpSolvesTheNoiseMultiplierForTheTargetEpsilon) {
  FederationConfig c = dp_config("central");
  c.num_clients = 100;
  c.clients_per_round = 10;
  c.rounds = 50;
  c.dp.noise_multiplier = -1;  // not given
  c.dp.target_epsilon = 4;
  c.dp.delta = 1e-5;
  EXPECT_DOUBLE_EQ(dp_sampling_rate(c), 0.1);
  auto strategy = make_federation_strategy(c);
  const auto* dp = dynamic_cast<const privacy::DpFedAvg*>(strategy.get());
  ASSERT_NE(dp, nullptr);
  const double z = dp->options().noise_multiplier;
  ASSERT_GT(z, 0);
  const double eps = privacy::epsilon_for(0.1, z, 50, 1e-5);
  EXPECT_LE(eps, 4.0) << "the solved multiplier keeps the budget";
  EXPECT_NEAR(eps, 4.0, 0.04) << "and is not much larger than needed";
  EXPECT_DOUBLE_EQ(federation_dp_options(c).noise_multiplier, z);
  // More rounds at the same budget need more noise.
  c.rounds = 200;
  EXPECT_GT(federation_dp_options(c).noise_multiplier, z);
  // The network server does not know N: it plans with the fewest clients a round starts with.
  c.num_clients = 0;
  c.min_available_clients = 20;
  EXPECT_DOUBLE_EQ(dp_sampling_rate(c), 0.5);
  c.min_available_clients = 5;
  EXPECT_DOUBLE_EQ(dp_sampling_rate(c), 1.0);
  // Below what any noise reaches (RDP's conversion has a floor at delta 1e-5): refused upfront.
  c.dp.target_epsilon = 1e-3;
  EXPECT_ERROR(federation_dp_options(c), "--target-epsilon 0.001 is out of reach");
  // Neither a multiplier nor a budget: nothing to calibrate the noise by.
  c.dp.target_epsilon = 0;
  EXPECT_ERROR(federation_dp_options(c), "needs --dp-noise-multiplier or --target-epsilon");
}

TEST(Federation, DpRefusesWhatItCannotAccount) {
  FederationConfig c = dp_config("central");
  c.clients_per_round = 0;  // a share of the available clients: q would be nobody's plan
  c.fraction_fit = 0.3;
  const std::string no_count = testing::error_of([&] { make_federation_strategy(c); });
  EXPECT_NE(no_count.find("--dp central needs --clients-per-round"), std::string::npos) << no_count;
  EXPECT_EQ(no_count.find('\n'), std::string::npos) << "one line";
  c.clients_per_round = 3;
  c.strategy = "scaffold";
  const std::string scaffold = testing::error_of([&] { make_federation_strategy(c); });
  EXPECT_NE(scaffold.find("cannot run --strategy scaffold"), std::string::npos) << scaffold;
  EXPECT_EQ(scaffold.find('\n'), std::string::npos) << "one line";
  c.strategy = "fedavgm";
  EXPECT_EQ(make_federation_strategy(c)->name(), "dp-fedavgm");
  // The wrapped strategy sees one averaged result a round: a minimum above 1 would freeze the
  // model while the account grows.
  c.min_results = 2;
  EXPECT_ERROR(make_federation_strategy(c), "--dp central with --min-results 2");
}

}  // namespace
}  // namespace fedsign::fl
