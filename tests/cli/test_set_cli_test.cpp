// Test sets through the CLI: `evaluate --subset test` scores every test image (not the ~20%
// a track split would keep: test images are one track each), in both layouts; a folder that
// holds only a test set is used by `evaluate` and `data info` with a note; an explicit
// `--subset train` or `--split validation` on a test set is an error saying why.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "fedsign/models/registry.h"
#include "fedsign/models/weights.h"
#include "fedsign/train/model_bundle.h"
#include "tests/testing/cli_runner.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign {
namespace {

namespace fs = std::filesystem;
using testing::run_cli;

class TestSetCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testing::cli_is_built());
    // An untrained model is enough: the tests count the images scored.
    fs::create_directories(tmp_ / "model");
    models::save_weights(*models::create_model("compact"), tmp_ / "model" / "model.pt");
    train::save_model_info(tmp_ / "model" / "model.json", {"compact", 43, 32, "none"});
  }

  std::string common() const {
    return " --cache-dir " + (tmp_ / "cache").string() + " --threads 1 --log-level warn";
  }

  nlohmann::json evaluate(const std::string& args, testing::CommandResult* result = nullptr) {
    const auto out = tmp_ / ("eval" + std::to_string(++runs_));
    auto r = run_cli("evaluate " + (tmp_ / "model").string() + " " + args + common() + " --out " +
                         out.string(),
                     tmp_.path());
    if (result) *result = r;
    EXPECT_EQ(r.exit_code, 0) << r.err;
    if (r.exit_code != 0) return {};
    return nlohmann::json::parse(testing::read_text(out / "summary.json"));
  }

  testing::TempDir tmp_;
  // 4 classes x 2 tracks x 2 frames for training; 20 test images.
  const testing::FixtureOptions fixture_{
      .num_classes = 4, .tracks_per_class = 2, .frames_per_track = 2, .test_images_per_class = 5};
  int runs_ = 0;
};

TEST_F(TestSetCli, EvaluateScoresEveryTestImageInBothLayouts) {
  const auto kaggle = testing::write_kaggle_dataset(tmp_ / "kaggle", fixture_);
  const auto official = testing::write_official_dataset(tmp_ / "official", fixture_);
  ASSERT_EQ(kaggle.test_images.size(), 20u);
  ASSERT_EQ(official.test_images.size(), 20u);
  for (const auto& dir : {tmp_ / "kaggle", tmp_ / "official"}) {
    SCOPED_TRACE(dir.filename().string());
    const auto summary = evaluate("--data " + dir.string() + " --subset test");
    ASSERT_FALSE(summary.is_null());
    EXPECT_EQ(summary["images"].get<std::size_t>(), 20u);
    EXPECT_EQ(summary["subset"], "test");
    EXPECT_EQ(summary["split"], "all");
    EXPECT_EQ(testing::count_lines(tmp_ / ("eval" + std::to_string(runs_)) / "predictions.csv"),
              21u);
  }
  // The training set keeps its track split: 8 tracks, 20% -> about 2 tracks of 2 frames.
  const auto train = evaluate("--data " + (tmp_ / "kaggle").string());
  ASSERT_FALSE(train.is_null());
  EXPECT_EQ(train["subset"], "train");
  EXPECT_EQ(train["split"], "validation");
  EXPECT_LT(train["images"].get<std::size_t>(), 16u);

  // --split validation on a test set would score a fifth of it: refused, saying why.
  auto r = run_cli("evaluate " + (tmp_ / "model").string() + " --data " +
                       (tmp_ / "kaggle").string() + " --subset test --split validation" + common() +
                       " --out " + (tmp_ / "refused").string(),
                   tmp_.path());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--split validation splits a training set by track"), std::string::npos)
      << r.err;
}

TEST_F(TestSetCli, AFolderWithOnlyATestSetIsUsedWithANote) {
  testing::write_kaggle_dataset(tmp_ / "kaggle", fixture_);
  fs::remove(tmp_ / "kaggle" / "Train.csv");
  fs::remove_all(tmp_ / "kaggle" / "Train");
  testing::write_official_dataset(tmp_ / "official", fixture_);
  fs::remove_all(tmp_ / "official" / "Final_Training");

  for (const auto& dir : {tmp_ / "kaggle", tmp_ / "official"}) {
    SCOPED_TRACE(dir.filename().string());
    // data info: the test set, with a note on stderr; stdout stays JSON.
    auto info = run_cli("data info " + dir.string() + " --json", tmp_.path());
    ASSERT_EQ(info.exit_code, 0) << info.err;
    const auto json = nlohmann::json::parse(info.out);
    EXPECT_EQ(json["subset"], "test");
    EXPECT_EQ(json["images"].get<std::size_t>(), 20u);
    EXPECT_NE(info.err.find("holds only a GTSRB test set (20 images): using it"), std::string::npos)
        << info.err;

    // evaluate: every test image, with the note.
    testing::CommandResult result;
    const auto summary = evaluate("--data " + dir.string(), &result);
    ASSERT_FALSE(summary.is_null());
    EXPECT_EQ(summary["images"].get<std::size_t>(), 20u);
    EXPECT_EQ(summary["subset"], "test");
    EXPECT_NE(result.err.find("holds only a GTSRB test set"), std::string::npos) << result.err;
    EXPECT_NE(result.out.find("20 images: accuracy"), std::string::npos) << result.out;

    // Asking for the training set explicitly is still an error, with the hint.
    auto explicit_train = run_cli("data info " + dir.string() + " --subset train", tmp_.path());
    EXPECT_NE(explicit_train.exit_code, 0);
    EXPECT_NE(explicit_train.err.find("use --subset test"), std::string::npos) << explicit_train.err;
  }
  // Training never falls back to a test set.
  auto train = run_cli("train --data " + (tmp_ / "kaggle").string() + " --epochs 1" + common() +
                           " --out " + (tmp_ / "train").string(),
                       tmp_.path());
  EXPECT_NE(train.exit_code, 0);
  EXPECT_NE(train.err.find("no GTSRB dataset under"), std::string::npos) << train.err;
}

}  // namespace
}  // namespace fedsign
