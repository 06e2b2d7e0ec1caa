// The round loop shared by the simulation and the network server (fl/run/driver.h): the order in
// which it calls a front door's hooks around each round's checkpoint. The checkpoint is written
// durably, so whatever it refers to must be made durable before it (before_checkpoint), and
// superseded files may only go once it is on disk (checkpoint_written).
#include "fedsign/fl/run/driver.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>
#include <vector>

#include "fedsign/fl/strategy/fedavg.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::fl {
namespace {

// Trains by adding 1 to every weight.
class PlusOneClient : public Client {
 public:
  FitResult fit(const FitIns& ins) override {
    FitResult r;
    r.num_examples = 1;
    r.weights = ins.weights;
    r.weights.tensors[0] = ins.weights.tensors[0] + 1;
    return r;
  }
  EvaluateResult evaluate(const EvaluateIns&) override { return {}; }
};

// Records each hook with the round of the checkpoint on disk at that moment (0: none yet).
class RecordingHooks : public RunHooks {
 public:
  explicit RecordingHooks(std::filesystem::path checkpoint) : checkpoint_(std::move(checkpoint)) {}
  void before_round(int64_t round) override { record("before_round", round); }
  void before_checkpoint(int64_t round) override { record("before_checkpoint", round); }
  void checkpoint_written(int64_t round) override { record("checkpoint_written", round); }
  std::vector<std::string> events;

 private:
  void record(const std::string& hook, int64_t round) {
    const int64_t on_disk =
        std::filesystem::exists(checkpoint_) ? load_server_checkpoint(checkpoint_).round : 0;
    events.push_back(hook + " " + std::to_string(round) + " (checkpoint " +
                     std::to_string(on_disk) + ")");
  }
  std::filesystem::path checkpoint_;
};

TEST(RunDriver, DurableFilesComeBeforeTheCheckpointAndCleanupAfterIt) {
  testing::TempDir tmp;
  FedAvg strategy({});
  FixedClientManager clients(2);
  RunConfig config;
  config.rounds = 2;
  config.eval_every = 0;
  config.run_dir = tmp / "run";
  RecordingHooks hooks(config.run_dir / "server.ckpt");
  RunDriver driver(strategy, clients, [](ClientId) { return std::make_unique<PlusOneClient>(); },
                   config, hooks);
  Weights global{{"w"}, {torch::zeros({2})}};
  driver.run(global);
  EXPECT_EQ(hooks.events, (std::vector<std::string>{
                              "before_round 1 (checkpoint 0)",
                              "before_checkpoint 1 (checkpoint 0)",
                              "checkpoint_written 1 (checkpoint 1)",
                              "before_round 2 (checkpoint 1)",
                              "before_checkpoint 2 (checkpoint 1)",
                              "checkpoint_written 2 (checkpoint 2)",
                          }));
  EXPECT_TRUE(torch::equal(global.tensors[0], torch::full({2}, 2.0f)));
}

}  // namespace
}  // namespace fedsign::fl
