// `fedsign fl simulate | partition | compare` end to end on a tiny generated dataset: run files,
// --resume, config files, and that `fedsign evaluate` accepts the federated run directory.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "fedsign/report/run_charts.h"
#include "fedsign/fl/strategy/strategy.h"
#include "tests/testing/cli_runner.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign {
namespace {

using testing::count_lines;
using testing::run_cli;

class FlCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testing::cli_is_built());  // a missing program fails the suite, never skips it
    testing::FixtureOptions fixture;
    fixture.num_classes = 5;
    fixture.tracks_per_class = 4;
    fixture.frames_per_track = 3;
    testing::write_kaggle_dataset(tmp_ / "data", fixture);
    data_ = " --data " + (tmp_ / "data").string() + " --cache-dir " + (tmp_ / "cache").string() +
            " --threads 1 --log-level warn";
  }
  testing::TempDir tmp_;
  std::string data_;
};

TEST_F(FlCli, SimulateResumeEvaluateCompare) {
  const auto run = tmp_ / "run";
  auto simulate_with = [&](const std::string& lr) {
    return "fl simulate" + data_ + " --clients 3 --clients-per-round 2 --local-steps 2 --model keras_cnn"
           " --batch-size 8 --optimizer sgd --lr " + lr + " --precision fp32 --strategy fedadam"
           " --partition dirichlet --alpha 0.5 --out " + run.string();
  };
  const std::string simulate = simulate_with("0.05");
  auto first = run_cli(simulate + " --rounds 2", tmp_.path());
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.out.find("round    1/2"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("round    2/2"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("central acc"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("overhead"), std::string::npos) << first.out;
  for (const char* f : {"config.toml", "metrics.csv", "accuracy.png", "loss.png", "partition.png",
                        "partition.csv", "model.pt", "model.json", "summary.md", "server.ckpt"}) {
    EXPECT_TRUE(std::filesystem::exists(run / f)) << f;
  }
  EXPECT_EQ(count_lines(run / "metrics.csv"), 3u);

  // --resume continues with round 3 only.
  auto resumed = run_cli(simulate + " --rounds 3 --resume", tmp_.path());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(resumed.out.find("round    1/3"), std::string::npos) << resumed.out;
  EXPECT_NE(resumed.out.find("round    3/3"), std::string::npos) << resumed.out;
  EXPECT_EQ(count_lines(run / "metrics.csv"), 4u);
  // ... but not with changed settings.
  auto changed = run_cli(simulate_with("0.5") + " --rounds 4 --resume", tmp_.path());
  EXPECT_EQ(changed.exit_code, 1);
  EXPECT_NE(changed.err.find("lr"), std::string::npos) << changed.err;

  // The final global model is a model bundle like a centralized run's.
  auto evaluate = run_cli("evaluate " + run.string() + data_ + " --precision fp32 --out " +
                              (tmp_ / "eval").string(), tmp_.path());
  ASSERT_EQ(evaluate.exit_code, 0) << evaluate.err;
  EXPECT_NE(evaluate.out.find("accuracy"), std::string::npos);

  // The config snapshot repeats the run.
  const auto again = tmp_ / "again";
  auto from_config = run_cli("fl simulate --config " + (run / "config.toml").string() +
                                 " --rounds 1 --log-level warn --out " + again.string(), tmp_.path());
  ASSERT_EQ(from_config.exit_code, 0) << from_config.err;
  EXPECT_NE(from_config.out.find("round    1/1"), std::string::npos) << from_config.out;

  auto compare = run_cli("fl compare " + run.string() + " " + again.string() + " --names a b --out " +
                             (tmp_ / "chart.png").string(), tmp_.path());
  ASSERT_EQ(compare.exit_code, 0) << compare.err;
  EXPECT_TRUE(std::filesystem::exists(tmp_ / "chart.png"));
  auto zoomed = run_cli("fl compare " + run.string() + " --from 2 --out " +
                            (tmp_ / "zoom.png").string(), tmp_.path());
  ASSERT_EQ(zoomed.exit_code, 0) << zoomed.err;
  EXPECT_GT(std::filesystem::file_size(tmp_ / "zoom.png"), 1000u);
}

TEST_F(FlCli, CosineRoundScheduleReachesTheClientsAndTheMetrics) {
  const auto run = tmp_ / "cosine";
  auto r = run_cli("fl simulate" + data_ + " --clients 2 --rounds 4 --local-steps 1 --model keras_cnn"
                   " --batch-size 8 --optimizer sgd --lr 0.1 --min-lr 0.01 --round-schedule cosine"
                   " --precision fp32 --out " + run.string(), tmp_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const report::RunSeries lr = report::read_run_series(run, "lr");
  ASSERT_EQ(lr.y.size(), 4u);
  fl::StrategyOptions o;
  o.lr_schedule = "cosine";
  o.total_rounds = 4;
  o.min_lr = 0.01;
  for (int round = 1; round <= 4; ++round) {
    EXPECT_NEAR(lr.y[round - 1], fl::round_learning_rate(o, 0.1, round), 1e-6) << round;
  }
  EXPECT_GT(lr.y[0], lr.y[3]);

  auto bad = run_cli("fl simulate" + data_ + " --round-schedule linear", tmp_.path());
  EXPECT_NE(bad.exit_code, 0);
}

TEST_F(FlCli, PartitionPrintsAndPlots) {
  const auto out = tmp_ / "part";
  auto r = run_cli("fl partition" + data_ + " --clients 4 --partition shards --shards-per-client 2"
                   " --out " + out.string(), tmp_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("4 clients"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("classes"), std::string::npos) << r.out;
  EXPECT_TRUE(std::filesystem::exists(out / "partition.png"));
  EXPECT_EQ(count_lines(out / "partition.csv"), 5u);

  auto bad = run_cli("fl simulate" + data_ + " --strategy fedmagic", tmp_.path());
  EXPECT_NE(bad.exit_code, 0);
}

}  // namespace
}  // namespace fedsign
