// The moving average of global models (--model-ema): the arithmetic by hand, what evaluation
// and the released model see, what the clients train from, its checkpointed state, and its
// place inside the DP wrapper (whose accountant the run still finds outermost).
#include "fedsign/fl/strategy/model_ema.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fedsign/fl/client_manager.h"
#include "fedsign/fl/privacy/dp_fedavg.h"
#include "fedsign/fl/run/federation.h"
#include "fedsign/fl/strategy/fedavg.h"
#include "fedsign/fl/weights.h"

namespace fedsign::fl {
namespace {

Weights model(float value, int64_t batches) {
  Weights w;
  w.names = {"head.weight", "bn.num_batches_tracked"};
  w.tensors = {torch::full({3}, value), torch::full({}, batches, torch::kLong)};
  return w;
}

FitResult result(ClientId id, const Weights& w) {
  FitResult r;
  r.client_id = id;
  r.weights = w;
  r.num_examples = 10;
  return r;
}

float head(const Weights& w) { return w.tensors[0][0].item<float>(); }

// Evaluation that reports the head's value as its "accuracy", to see which model it was given.
StrategyOptions probing_options() {
  StrategyOptions o;
  o.evaluate_fn = [](int64_t, const Weights& w) -> std::optional<EvaluateSummary> {
    EvaluateSummary s;
    s.metrics["accuracy"] = head(w);
    return s;
  };
  return o;
}

TEST(ModelEma, AveragesTheGlobalModelsByHandAndEvaluatesTheAverage) {
  ModelEma ema(std::make_unique<FedAvg>(probing_options()), 0.75);
  // Round 1 from 0: FedAvg of 4 and 8 is 6; the average starts at the first model (0):
  // 0.75 * 0 + 0.25 * 6 = 1.5.
  AggregateFitResult r1 =
      ema.aggregate_fit(1, model(0, 0), {result(0, model(4, 10)), result(1, model(8, 20))}, {});
  EXPECT_FLOAT_EQ(head(r1.weights), 6.0f);  // the clients' next starting point: not averaged
  EXPECT_FLOAT_EQ(head(ema.released_model(r1.weights)), 1.5f);
  EXPECT_DOUBLE_EQ(ema.evaluate(1, r1.weights)->metrics.at("accuracy"), 1.5);
  // Round 2 from 6 to 10: 0.75 * 1.5 + 0.25 * 10 = 3.625.
  AggregateFitResult r2 = ema.aggregate_fit(2, r1.weights, {result(0, model(10, 30))}, {});
  EXPECT_FLOAT_EQ(head(ema.released_model(r2.weights)), 3.625f);
  // Integer tensors are averaged and rounded: 0.75 * round(0.25 * 15) + 0.25 * 30.
  const Weights released = ema.released_model(r2.weights);
  EXPECT_EQ(released.tensors[1].scalar_type(), torch::kLong);
  EXPECT_EQ(released.tensors[1].item<int64_t>(), 10);
  // Federated evaluation sends the clients the average too.
  FixedClientManager clients(2);
  for (const auto& e : ema.configure_evaluate(2, r2.weights, clients)) {
    EXPECT_FLOAT_EQ(head(e.ins.weights), 3.625f);
  }
}

TEST(ModelEma, TheAverageIsCheckpointedAndResumed) {
  ModelEma a(std::make_unique<FedAvg>(StrategyOptions{}), 0.5);
  a.aggregate_fit(1, model(0, 0), {result(0, model(4, 0))}, {});
  const auto state = a.state();
  ASSERT_EQ(state.count("model_ema"), 1u);
  ModelEma b(std::make_unique<FedAvg>(StrategyOptions{}), 0.5);
  EXPECT_FLOAT_EQ(head(b.released_model(model(4, 0))), 4.0f);  // nothing averaged yet
  b.load_state(state);
  EXPECT_FLOAT_EQ(head(b.released_model(model(4, 0))), 2.0f);
  // Both continue alike: 0.5 * 2 + 0.5 * 8 = 5.
  a.aggregate_fit(2, model(4, 0), {result(0, model(8, 0))}, {});
  b.aggregate_fit(2, model(4, 0), {result(0, model(8, 0))}, {});
  EXPECT_FLOAT_EQ(head(a.released_model(model(8, 0))), 5.0f);
  EXPECT_TRUE(equal(a.released_model(model(8, 0)), b.released_model(model(8, 0))));
}

TEST(ModelEma, RefusesADecayOutsideTheOpenInterval) {
  EXPECT_THROW(ModelEma(std::make_unique<FedAvg>(StrategyOptions{}), 1.0), Error);
  EXPECT_THROW(ModelEma(std::make_unique<FedAvg>(StrategyOptions{}), -0.1), Error);
}

TEST(ModelEma, SitsInsideTheDpWrapperWhichReleasesTheAverage) {
  FederationConfig c;
  c.num_clients = 10;
  c.clients_per_round = 2;
  c.dp_mode = "central";
  c.dp.clip = 1.0;
  c.dp.noise_multiplier = 0.0;  // arithmetic only: no noise
  c.model_ema = 0.5;
  auto strategy = make_federation_strategy(c);
  ASSERT_NE(dynamic_cast<privacy::DpFedAvg*>(strategy.get()), nullptr);
  // Updates of norm sqrt(3) * 0.5 < 1 pass the clip: FedAvg gives 0.5, the average 0.25.
  FixedClientManager clients(10);
  ASSERT_EQ(strategy->configure_fit(1, model(0, 0), clients).size(), 2u);
  AggregateFitResult r = strategy->aggregate_fit(
      1, model(0, 0), {result(0, model(0.5f, 0)), result(1, model(0.5f, 0))}, {});
  EXPECT_NEAR(head(r.weights), 0.5f, 1e-6);
  EXPECT_NEAR(head(strategy->released_model(r.weights)), 0.25f, 1e-6);
  EXPECT_EQ(strategy->state().count("model_ema"), 1u);
}

}  // namespace
}  // namespace fedsign::fl
