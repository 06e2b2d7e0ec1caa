// The simulation's upload path (fl/sim/upload_client.h) around a fake client: an attacker's update
// is attacked before it is encoded, bytes up and down and attackers are counted per round, and
// top-k's residual lives in the client's state between rounds (so it is checkpointed with it).
#include "fedsign/fl/sim/upload_client.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace fedsign::fl {
namespace {

Weights model(std::vector<float> v) {
  Weights w;
  w.names = {"w"};
  w.tensors = {torch::tensor(v)};
  return w;
}

// Trains by adding a fixed step to the global model.
class StepClient : public Client {
 public:
  explicit StepClient(std::vector<float> step) : step_(std::move(step)) {}
  FitResult fit(const FitIns& ins) override {
    FitResult r;
    r.client_id = 7;
    r.num_examples = 10;
    r.weights = model(step_);
    r.weights.tensors[0] = r.weights.tensors[0] + ins.weights.tensors[0];
    return r;
  }
  EvaluateResult evaluate(const EvaluateIns&) override { return {}; }

 private:
  std::vector<float> step_;
};

std::vector<float> values(const Weights& w) {
  auto c = w.tensors[0].contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

FitIns instruction(const Weights& global, int64_t round) {
  FitIns ins;
  ins.weights = global;
  ins.config[keys::kRound] = round;
  return ins;
}

TEST(UploadClient, AttackThenCountBytes) {
  attack::AttackOptions flip;
  flip.kind = "sign-flip";
  compress::CompressOptions none;
  MemoryClientStateStore states;
  RoundTraffic traffic;
  const Weights global = model({1, 1, 1, 1});
  UploadClient attacker(std::make_unique<StepClient>(std::vector<float>{1, 0, 0, -2}), 7, true,
                        flip, none, states, 3, traffic);
  EXPECT_EQ(values(attacker.fit(instruction(global, 1)).weights),
            (std::vector<float>{0, 1, 1, 3}));  // global - update
  UploadClient honest(std::make_unique<StepClient>(std::vector<float>{1, 0, 0, -2}), 8, false,
                      flip, none, states, 3, traffic);
  EXPECT_EQ(values(honest.fit(instruction(global, 1)).weights), (std::vector<float>{2, 1, 1, -1}));
  EXPECT_EQ(traffic.attackers, 1);
  EXPECT_EQ(traffic.bytes_up, 2 * 16);  // two float32 models of 4 values
  EXPECT_EQ(traffic.bytes_down, 2 * 16);
  EXPECT_EQ(states.num_states(), 0);  // nothing to keep without top-k
}

TEST(UploadClient, TopKResidualIsKeptInTheClientState) {
  attack::AttackOptions none;
  compress::CompressOptions top;
  top.codec = "topk";
  top.topk_fraction = 0.25;  // one value of four
  top.topk_dense_up_to = 0;  // every tensor sparsified, however small
  MemoryClientStateStore states;
  RoundTraffic traffic;
  const Weights global = model({0, 0, 0, 0});
  auto client = [&] {
    return UploadClient(std::make_unique<StepClient>(std::vector<float>{4, 3, 0, 0}), 7, false,
                        none, top, states, 3, traffic);
  };
  // Round 1 sends the 4 and keeps the 3; round 2's update (4, 3) + residual (0, 3) sends the 6.
  EXPECT_EQ(values(client().fit(instruction(global, 1)).weights), (std::vector<float>{4, 0, 0, 0}));
  const auto state = states.load(7);
  ASSERT_TRUE(state && state->residual);
  EXPECT_EQ(values(*state->residual), (std::vector<float>{0, 3, 0, 0}));
  EXPECT_EQ(values(client().fit(instruction(global, 2)).weights), (std::vector<float>{0, 6, 0, 0}));
  EXPECT_EQ(values(*states.load(7)->residual), (std::vector<float>{4, 0, 0, 0}));
  EXPECT_EQ(traffic.bytes_up, 2 * 5);  // a float32 value and its position's one-byte gap per round
}

TEST(UploadClient, TopKResidualRejoinsAtTheRoundsLearningRate) {
  // The residual is kept per unit of learning rate: round 1 at rate 0.1 keeps the 3 as 30, and
  // round 2 at rate 0.05 adds it back as 1.5 and sends 4.5 (plain error feedback would send 6).
  attack::AttackOptions none;
  compress::CompressOptions top;
  top.codec = "topk";
  top.topk_fraction = 0.25;
  top.topk_dense_up_to = 0;  // every tensor sparsified, however small
  MemoryClientStateStore states;
  RoundTraffic traffic;
  const Weights global = model({0, 0, 0, 0});
  auto fit = [&](int64_t round, double lr) {
    UploadClient client(std::make_unique<StepClient>(std::vector<float>{4, 3, 0, 0}), 7, false,
                        none, top, states, 3, traffic);
    FitIns ins = instruction(global, round);
    ins.config[keys::kLr] = lr;
    return values(client.fit(ins).weights);
  };
  EXPECT_EQ(fit(1, 0.1), (std::vector<float>{4, 0, 0, 0}));
  EXPECT_NEAR(values(*states.load(7)->residual)[1], 30.0f, 1e-4);
  const std::vector<float> second = fit(2, 0.05);  // (4, 3) + (0, 1.5): sends the 4.5
  EXPECT_NEAR(second[1], 4.5f, 1e-5);
  EXPECT_EQ(second[0], 0.0f);
  const std::vector<float> left = values(*states.load(7)->residual);
  EXPECT_NEAR(left[0], 4.0f / 0.05f, 1e-3);  // the 4 left, per unit of rate 0.05
  EXPECT_EQ(left[1], 0.0f);
}

}  // namespace
}  // namespace fedsign::fl
