// `fedsign fl simulate | partition | compare` end to end on a tiny generated dataset: run files,
// --resume, config files, and that `fedsign evaluate` accepts the federated run directory.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <regex>

#include <nlohmann/json.hpp>

#include "fedsign/fl/run/server_checkpoint.h"
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

// --client-renders: each client adds renders of the pictograms (Meta/ of --data) to its local
// training data only; its local test and the central validation stay real photos.
TEST_F(FlCli, ClientRendersJoinOnlyTheClientsTrainingData) {
  auto simulate = [&](const std::string& name, const std::string& extra) {
    return run_cli("fl simulate" + data_ + " --clients 2 --rounds 1 --local-steps 1 --model keras_cnn"
                   " --batch-size 8 --precision fp32 --client-test-fraction 0.3 --out " +
                   (tmp_ / name).string() + extra, tmp_.path());
  };
  // No Meta/ in the data folder: refused, naming what is missing.
  auto missing = simulate("no-meta", " --client-renders 2");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("Meta"), std::string::npos) << missing.err;

  testing::write_fixture_pictograms(tmp_ / "data", 43);
  auto plain = simulate("plain", "");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  auto rendered = simulate("rendered", " --client-renders 2");
  ASSERT_EQ(rendered.exit_code, 0) << rendered.err;
  // What the clients keep for evaluation and the central held-out count are unchanged; the
  // training data grows by 2 renders x 43 classes x 2 clients.
  const std::string a = testing::read_text(tmp_ / "plain" / "summary.md");
  const std::string b = testing::read_text(tmp_ / "rendered" / "summary.md");
  auto data_row = [](const std::string& summary) {
    const auto from = summary.find("| data |");
    return summary.substr(from, summary.find('\n', from) - from);
  };
  const std::string plain_row = data_row(a), rendered_row = data_row(b);
  EXPECT_EQ(plain_row.find("renders"), std::string::npos) << plain_row;
  EXPECT_NE(rendered_row.find("plus 172 pictogram renders"), std::string::npos) << rendered_row;
  auto without_renders = rendered_row;
  without_renders.erase(without_renders.find(" plus 172 pictogram renders (`--client-renders`)"),
                        std::string(" plus 172 pictogram renders (`--client-renders`)").size());
  EXPECT_EQ(without_renders, plain_row);

  // The renders are cached (stamped) under --cache-dir and reused by the next run.
  std::string loud = data_;
  loud.replace(loud.find("--log-level warn"), 16, "--log-level info");
  auto again = run_cli("fl simulate" + loud + " --clients 2 --rounds 1 --local-steps 1"
                       " --model keras_cnn --batch-size 8 --precision fp32 --client-test-fraction"
                       " 0.3 --client-renders 2 --out " +
                       (tmp_ / "again").string(), tmp_.path());
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE((again.out + again.err).find("reusing the rendered images"), std::string::npos)
      << again.out << again.err;
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

// --test-fraction: the final global model meets the untouched test split once, after the run.
TEST_F(FlCli, FinalModelIsScoredOnTheUntouchedTestSplit) {
  const auto run = tmp_ / "tested";
  auto r = run_cli("fl simulate" + data_ + " --clients 2 --rounds 1 --local-steps 1 --model keras_cnn"
                   " --batch-size 8 --precision fp32 --val-fraction 0.25 --test-fraction 0.25"
                   " --out " + run.string(), tmp_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("test split (untouched, 15 images, read once)"), std::string::npos) << r.out;
  EXPECT_NE(testing::read_text(run / "test.json").find("\"images\": 15"), std::string::npos);
  EXPECT_NE(testing::read_text(run / "summary.md").find("test split (untouched, 15 images)"),
            std::string::npos);
  // The clients' pool excludes it: 60 images - 15 validation - 15 test = 30 held by clients.
  const std::string summary = testing::read_text(run / "summary.md");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(summary, m, std::regex("(\\d+) central held-out images; clients "
                                                       "train on (\\d+) real images and keep (\\d+)")))
      << summary;
  EXPECT_EQ(std::stoi(m[1]), 15);
  EXPECT_EQ(std::stoi(m[2]) + std::stoi(m[3]), 30);
}

// A run checkpointed by an older fedsign, before an option existed, resumes with that option at
// its default (the run ran without it) and is refused with it set, naming it.
TEST_F(FlCli, ResumeAcceptsAnOptionAddedSinceAtItsDefault) {
  const auto run = tmp_ / "older";
  const std::string simulate = "fl simulate" + data_ + " --clients 2 --local-steps 1 --model keras_cnn"
                               " --batch-size 8 --precision fp32 --out " + run.string();
  auto first = run_cli(simulate + " --rounds 1", tmp_.path());
  ASSERT_EQ(first.exit_code, 0) << first.err;
  // The checkpoint as a build without --topk-dense-up-to would have written it.
  fl::ServerCheckpoint cp = fl::load_server_checkpoint(run / "server.ckpt");
  auto settings = nlohmann::json::parse(cp.settings_json);
  ASSERT_TRUE(settings.contains("topk-dense-up-to")) << cp.settings_json;
  settings.erase("topk-dense-up-to");
  cp.settings_json = settings.dump();
  fl::save_server_checkpoint(run / "server.ckpt", cp);

  auto changed = run_cli(simulate + " --rounds 2 --resume --topk-dense-up-to 5", tmp_.path());
  EXPECT_NE(changed.exit_code, 0);
  EXPECT_NE(changed.err.find("settings changed (topk-dense-up-to)"), std::string::npos) << changed.err;
  auto resumed = run_cli(simulate + " --rounds 2 --resume", tmp_.path());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(count_lines(run / "metrics.csv"), 3u);
}

// --eval-precision int8: the compact model's central accuracy in int8, said so in summary.md;
// a model without an int8 path is refused, naming the option.
TEST_F(FlCli, CentralEvaluationInInt8) {
  const auto run = tmp_ / "int8";
  const std::string simulate = "fl simulate" + data_ + " --clients 2 --rounds 1 --local-steps 1"
                               " --batch-size 8 --eval-precision int8 --out " + run.string();
  auto r = run_cli(simulate + " --model compact", tmp_.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("central acc"), std::string::npos) << r.out;
  EXPECT_NE(testing::read_text(run / "summary.md").find("(round 1, int8: `--eval-precision`)"),
            std::string::npos);
  auto refused = run_cli(simulate + " --model keras_cnn", tmp_.path());
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("--eval-precision int8: only the compact model"), std::string::npos)
      << refused.err;
  // A server without --data does not evaluate: asking it to in int8 is refused before a socket
  // opens.
  auto server = run_cli("fl server --address 127.0.0.1:0 --rounds 1 --eval-precision int8",
                        tmp_.path());
  EXPECT_NE(server.exit_code, 0);
  EXPECT_NE(server.err.find("--eval-precision int8 needs --data"), std::string::npos) << server.err;
}

// The dashboard is plain HTTP: a simulation refuses to serve it beyond loopback unless told to,
// before it loads any data.
TEST_F(FlCli, DashboardStaysOnLoopbackUnlessAllowed) {
  auto r = run_cli("fl simulate" + data_ + " --rounds 1 --status-address 0.0.0.0:0 --out " +
                   (tmp_ / "remote").string(), tmp_.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("loopback"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "remote" / "metrics.csv"));
}

}  // namespace
}  // namespace fedsign
