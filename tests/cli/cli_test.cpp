// End-to-end tests of the fedsign program: train -> evaluate -> predict on tiny generated data,
// config files, and one-line errors with a non-zero exit for bad input.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/testing/cli_runner.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign {
namespace {

using testing::count_lines;
using testing::run_cli;

class CliEndToEnd : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::FixtureOptions fixture;
    fixture.num_classes = 5;
    fixture.tracks_per_class = 4;
    fixture.frames_per_track = 3;
    info_ = testing::write_kaggle_dataset(tmp_ / "data", fixture);
    common_ = " --data " + (tmp_ / "data").string() + " --cache-dir " + (tmp_ / "cache").string() +
              " --threads 2 --log-level warn";
  }
  testing::TempDir tmp_;
  testing::FixtureInfo info_;
  std::string common_;
};

TEST_F(CliEndToEnd, TrainEvaluatePredict) {
  const auto run = tmp_ / "run";
  auto train = run_cli("train" + common_ + " --epochs 3 --batch-size 16 --out " + run.string(), tmp_.path());
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_NE(train.out.find("best validation accuracy"), std::string::npos) << train.out;
  for (const char* f : {"config.toml", "metrics.csv", "loss.png", "accuracy.png", "model.pt",
                        "model.json", "summary.md", "last.ckpt"}) {
    EXPECT_TRUE(std::filesystem::exists(run / f)) << f;
  }
  EXPECT_EQ(count_lines(run / "metrics.csv"), 4u);

  const auto eval_dir = tmp_ / "eval";
  auto evaluate = run_cli("evaluate " + run.string() + common_ + " --out " + eval_dir.string(),
                          tmp_.path());
  ASSERT_EQ(evaluate.exit_code, 0) << evaluate.err;
  EXPECT_NE(evaluate.out.find("accuracy"), std::string::npos);
  for (const char* f : {"summary.json", "per_class.csv", "confusion.csv", "confusion.png",
                        "predictions.csv"}) {
    EXPECT_TRUE(std::filesystem::exists(eval_dir / f)) << f;
  }
  std::ifstream summary_file(eval_dir / "summary.json");
  auto summary = nlohmann::json::parse(summary_file);
  EXPECT_GE(summary["accuracy"].get<double>(), 0.0);
  EXPECT_LE(summary["accuracy"].get<double>(), 1.0);
  EXPECT_EQ(count_lines(eval_dir / "predictions.csv"), summary["images"].get<std::size_t>() + 1);

  const std::string image = info_.train_images.front().string();
  auto predict = run_cli("predict " + run.string() + " " + image + " " + image +
                             " --top-k 2 --json --log-level warn",
                         tmp_.path());
  ASSERT_EQ(predict.exit_code, 0) << predict.err;
  auto json = nlohmann::json::parse(predict.out);
  ASSERT_EQ(json.size(), 2u);
  ASSERT_EQ(json[0]["top"].size(), 2u);
  EXPECT_EQ(json[0]["image"], image);
  EXPECT_GE(json[0]["top"][0]["confidence"].get<double>(),
            json[0]["top"][1]["confidence"].get<double>());
  EXPECT_FALSE(json[0]["top"][0]["name"].get<std::string>().empty());
}

TEST_F(CliEndToEnd, OptionsFromConfigFile) {
  const auto run = tmp_ / "run";
  testing::write_text(tmp_ / "train.toml", "epochs = 1\nbatch-size = 16\nmodel = \"keras_cnn\"\n");
  auto train = run_cli("train --config " + (tmp_ / "train.toml").string() + common_ + " --out " +
                           run.string(),
                       tmp_.path());
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_EQ(count_lines(run / "metrics.csv"), 2u);  // one epoch from the config file
  EXPECT_NE(testing::read_text(run / "model.json").find("keras_cnn"), std::string::npos);
  // The snapshot is itself a valid config file.
  EXPECT_NE(testing::read_text(run / "config.toml").find("epochs=1"), std::string::npos)
      << testing::read_text(run / "config.toml");
}

TEST_F(CliEndToEnd, BadInputGivesOneLineErrorAndNonZeroExit) {
  auto missing = run_cli("train --data " + (tmp_ / "nowhere").string() + " --no-cache", tmp_.path());
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("nowhere"), std::string::npos) << missing.err;

  testing::write_garbage(info_.train_images[2]);
  auto corrupt = run_cli("train" + common_ + " --epochs 1 --out " + (tmp_ / "r").string(), tmp_.path());
  EXPECT_NE(corrupt.exit_code, 0);
  EXPECT_NE(corrupt.err.find(info_.train_images[2].filename().string()), std::string::npos)
      << corrupt.err;

  auto skip = run_cli("train" + common_ + " --on-bad-image skip --epochs 1 --batch-size 16 --out " +
                          (tmp_ / "r2").string(),
                      tmp_.path());
  EXPECT_EQ(skip.exit_code, 0) << skip.err;

  auto no_model = run_cli("predict " + (tmp_ / "nomodel").string() + " x.png", tmp_.path());
  EXPECT_NE(no_model.exit_code, 0);
  EXPECT_NE(no_model.err.find("nomodel"), std::string::npos) << no_model.err;
}

}  // namespace
}  // namespace fedsign
