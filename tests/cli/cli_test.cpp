// End-to-end tests of the fedsign program: train -> evaluate -> predict on tiny generated data,
// config files, and one-line errors with a non-zero exit for bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <fmt/format.h>
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
              " --threads 1 --log-level warn";
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
  // The summary's accuracy is the share of correct rows in predictions.csv, and the printed
  // line says the same.
  std::istringstream rows(testing::read_text(eval_dir / "predictions.csv"));
  std::string row;
  std::getline(rows, row);
  EXPECT_EQ(row, "path,true,predicted,confidence");
  std::size_t images = 0, correct = 0;
  while (std::getline(rows, row)) {
    std::istringstream fields(row);
    std::string path, truth, predicted;
    std::getline(fields, path, ',');
    std::getline(fields, truth, ',');
    std::getline(fields, predicted, ',');
    ++images;
    correct += truth == predicted;
  }
  ASSERT_GT(images, 0u);
  EXPECT_EQ(summary["images"].get<std::size_t>(), images);
  EXPECT_DOUBLE_EQ(summary["accuracy"].get<double>(), static_cast<double>(correct) / images);
  EXPECT_NE(evaluate.out.find(fmt::format("{} images: accuracy {:.2f}%", images,
                                          100.0 * correct / images)),
            std::string::npos)
      << evaluate.out;

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

// --test-fraction: a third split by track that the run reads once, at the end, and that
// `evaluate --split test` scores again to the same figure.
TEST_F(CliEndToEnd, UntouchedTestSplitIsReportedOnceAndScoredAgainByEvaluate) {
  const auto run = tmp_ / "three-way";
  const std::string split = " --val-fraction 0.25 --test-fraction 0.25 --split-seed 3";
  auto train = run_cli("train" + common_ + split + " --epochs 2 --batch-size 16 --out " +
                       run.string(), tmp_.path());
  ASSERT_EQ(train.exit_code, 0) << train.err;
  // 5 classes x 4 tracks x 3 frames: one track per class is the test split.
  EXPECT_NE(train.out.find("test split (untouched, 15 images, read once)"), std::string::npos)
      << train.out;
  const auto test = nlohmann::json::parse(testing::read_text(run / "test.json"));
  EXPECT_EQ(test["images"], 15);
  const double accuracy = test["accuracy"];
  EXPECT_NE(testing::read_text(run / "summary.md").find("| test split (untouched, 15 images) |"),
            std::string::npos);
  EXPECT_NE(testing::read_text(run / "summary.md").find("30 train / 15 validation / 15 test"),
            std::string::npos) << testing::read_text(run / "summary.md");

  auto evaluate = run_cli("evaluate " + run.string() + common_ + split + " --split test --out " +
                              (tmp_ / "three-way-eval").string(), tmp_.path());
  ASSERT_EQ(evaluate.exit_code, 0) << evaluate.err;
  EXPECT_NE(evaluate.out.find("15 images"), std::string::npos) << evaluate.out;
  const auto scored =
      nlohmann::json::parse(testing::read_text(tmp_ / "three-way-eval" / "summary.json"));
  EXPECT_NEAR(scored["accuracy"].get<double>(), accuracy, 1e-9);

  auto without = run_cli("evaluate " + run.string() + common_ + " --split test --out " +
                             (tmp_ / "no-fraction").string(), tmp_.path());
  EXPECT_EQ(without.exit_code, 1);
  EXPECT_NE(without.err.find("--test-fraction"), std::string::npos) << without.err;
}

// --weight-ema: model.pt is the selected weight average, model_raw.pt the trained weights, both
// named in the summary; `evaluate --tta` scores either with test-time views.
TEST_F(CliEndToEnd, WeightAverageAndTestTimeViews) {
  const auto run = tmp_ / "ema";
  auto train = run_cli("train" + common_ + " --model compact_stn --weight-ema 0.9 --epochs 2 "
                       "--batch-size 16 --out " + run.string(), tmp_.path());
  ASSERT_EQ(train.exit_code, 0) << train.err;
  EXPECT_NE(train.out.find("weight EMA: best validation accuracy"), std::string::npos) << train.out;
  const std::string summary = testing::read_text(run / "summary.md");
  EXPECT_NE(summary.find("exponential moving average, decay 0.9 (model.pt)"), std::string::npos)
      << summary;
  EXPECT_NE(summary.find("model_raw.pt"), std::string::npos) << summary;
  EXPECT_NE(testing::read_text(run / "metrics.csv").find("ema_val_accuracy"), std::string::npos);

  auto evaluate = run_cli("evaluate " + (run / "model_raw.pt").string() + common_ +
                              " --tta 3 --out " + (tmp_ / "tta").string(), tmp_.path());
  ASSERT_EQ(evaluate.exit_code, 0) << evaluate.err;
  EXPECT_NE(evaluate.out.find("3 test-time views"), std::string::npos) << evaluate.out;
  const auto scored = nlohmann::json::parse(testing::read_text(tmp_ / "tta" / "summary.json"));
  EXPECT_EQ(scored["tta_views"], 3);

  auto too_many = run_cli("evaluate " + run.string() + common_ + " --tta 8", tmp_.path());
  EXPECT_NE(too_many.exit_code, 0);
  auto no_validation = run_cli("train" + common_ + " --weight-ema 0.9 --val-fraction 0 --epochs 1 "
                               "--out " + (tmp_ / "ema-noval").string(), tmp_.path());
  EXPECT_EQ(no_validation.exit_code, 1);
  EXPECT_NE(no_validation.err.find("--weight-ema"), std::string::npos) << no_validation.err;
}

TEST_F(CliEndToEnd, QuantizeThenEvaluateAndPredictInInt8) {
  const auto run = tmp_ / "int8";
  const std::string train_args = "train" + common_ + " --epochs 2 --batch-size 16 --out " + run.string();
  ASSERT_EQ(run_cli(train_args, tmp_.path()).exit_code, 0);
  const std::string int8_eval = "evaluate " + run.string() + common_ + " --precision int8 --out " +
                                (tmp_ / "eval-int8").string();
  // Without ranges int8 is refused, naming the command that makes them.
  auto missing = run_cli(int8_eval, tmp_.path());
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("fedsign quantize"), std::string::npos) << missing.err;

  // A tiny model's accuracy moves by whole images: --max-drop 100 keeps int8 whatever it reads.
  auto quantize = run_cli("quantize " + run.string() + common_ + " --max-drop 100", tmp_.path());
  ASSERT_EQ(quantize.exit_code, 0) << quantize.err;
  EXPECT_NE(quantize.out.find("int8 kept"), std::string::npos) << quantize.out;
  const auto record = nlohmann::json::parse(testing::read_text(run / "model.int8.json"));
  EXPECT_EQ(record["block_max"].size(), 7u);
  EXPECT_EQ(record["split"], "validation");

  auto evaluate = run_cli(int8_eval, tmp_.path());
  ASSERT_EQ(evaluate.exit_code, 0) << evaluate.err;
  const auto scored = nlohmann::json::parse(testing::read_text(tmp_ / "eval-int8" / "summary.json"));
  EXPECT_EQ(scored["precision"], "int8");
  EXPECT_NEAR(scored["accuracy"].get<double>(), record["int8_accuracy"].get<double>(), 1e-9);

  const std::string image = info_.train_images.front().string();
  auto predict = run_cli("predict " + run.string() + " " + image +
                             " --precision int8 --top-k 2 --json --log-level warn", tmp_.path());
  ASSERT_EQ(predict.exit_code, 0) << predict.err;
  EXPECT_EQ(nlohmann::json::parse(predict.out).at(0).at("top").size(), 2u) << predict.out;

  // New weights make the ranges stale: refused until quantized again.
  ASSERT_EQ(run_cli(train_args + " --seed 7", tmp_.path()).exit_code, 0);
  auto stale = run_cli(int8_eval, tmp_.path());
  EXPECT_EQ(stale.exit_code, 1);
  EXPECT_NE(stale.err.find("other weights"), std::string::npos) << stale.err;

  // Only the compact model has an int8 path.
  const auto keras = tmp_ / "keras";
  ASSERT_EQ(run_cli("train" + common_ + " --model keras_cnn --epochs 1 --out " + keras.string(),
                    tmp_.path()).exit_code, 0);
  auto other = run_cli("quantize " + keras.string() + common_, tmp_.path());
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.err.find("compact"), std::string::npos) << other.err;
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

// The experiment commands end to end on one tiny trained model: transfer (three modes, one
// epoch), cam, detect on a sign image and report over the runs. The libraries behind them have
// their own tests (tests/experiments, tests/report); this checks the CLI wiring and outputs.
TEST_F(CliEndToEnd, TransferCamDetectReport) {
  const auto source = tmp_ / "source";
  auto train = run_cli("train" + common_ + " --epochs 2 --batch-size 16 --out " + source.string(),
                       tmp_.path());
  ASSERT_EQ(train.exit_code, 0) << train.err;

  const auto transfer_dir = tmp_ / "transfer";
  auto transfer = run_cli("transfer --source " + source.string() + common_ +
                              " --modes direct,features,partial --epochs 1 --batch-size 16"
                              " --head-hidden 16 --out " + transfer_dir.string(),
                          tmp_.path());
  ASSERT_EQ(transfer.exit_code, 0) << transfer.err;
  const std::string table = testing::read_text(transfer_dir / "transfer.md");
  for (const char* mode : {"direct", "features", "partial"}) {
    EXPECT_NE(table.find(mode), std::string::npos) << table;
  }
  EXPECT_EQ(count_lines(transfer_dir / "transfer.csv"), 4u);  // header + 3 modes
  EXPECT_TRUE(std::filesystem::exists(transfer_dir / "transfer_accuracy.png"));
  EXPECT_TRUE(std::filesystem::exists(transfer_dir / "partial" / "model.pt"));

  const std::string a = info_.train_images.front().string();
  const std::string b = info_.train_images.back().string();
  const auto cam_dir = tmp_ / "cam";
  auto cam = run_cli("cam " + source.string() + " " + a + " " + b + " --log-level warn --out " +
                         cam_dir.string(),
                     tmp_.path());
  ASSERT_EQ(cam.exit_code, 0) << cam.err;
  std::ifstream cam_file(cam_dir / "cam.json");
  const auto cam_json = nlohmann::json::parse(cam_file);
  EXPECT_EQ(cam_json.size(), 2u);
  EXPECT_TRUE(std::filesystem::exists(cam_dir / "grid.png"));

  // A street-like image with one red-ring sign (centre 200,90, radius 30) on grey.
  const std::string street = (tmp_ / "street.png").string();
  cv::Mat street_image(240, 320, CV_8UC3, cv::Scalar(128, 128, 128));
  cv::circle(street_image, {200, 90}, 30, cv::Scalar(40, 30, 210), cv::FILLED, cv::LINE_AA);
  cv::circle(street_image, {200, 90}, 22, cv::Scalar(245, 245, 245), cv::FILLED, cv::LINE_AA);
  ASSERT_TRUE(cv::imwrite(street, street_image));
  const auto detect_dir = tmp_ / "detect";
  auto detect = run_cli("detect " + source.string() + " " + street + " --threshold 0 --json"
                            " --log-level warn --out " + detect_dir.string(),
                        tmp_.path());
  ASSERT_EQ(detect.exit_code, 0) << detect.err;
  const auto found = nlohmann::json::parse(detect.out);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0]["image"], street);
  ASSERT_EQ(found[0]["detections"].size(), 1u) << detect.out;  // the sign, read at threshold 0
  const auto box = found[0]["detections"][0]["box"].get<std::vector<int>>();
  ASSERT_EQ(box.size(), 4u);
  const cv::Rect sign(170, 60, 61, 61), detected(box[0], box[1], box[2], box[3]);
  const double overlap = (sign & detected).area();
  EXPECT_GT(overlap / (sign.area() + detected.area() - overlap), 0.5) << detect.out;  // IoU
  const double confidence = found[0]["detections"][0]["confidence"].get<double>();
  EXPECT_TRUE(std::filesystem::exists(detect_dir / "detections.json"));
  // A threshold above that confidence rejects it: the flag reaches the detector.
  auto strict = run_cli("detect " + source.string() + " " + street + " --json --log-level warn"
                            " --threshold " + fmt::format("{:.6f}", std::min(1.0, confidence + 1e-4)) +
                            " --out " + (tmp_ / "detect2").string(),
                        tmp_.path());
  ASSERT_EQ(strict.exit_code, 0) << strict.err;
  EXPECT_TRUE(nlohmann::json::parse(strict.out)[0]["detections"].empty()) << strict.out;

  const auto report_dir = tmp_ / "report";
  auto report = run_cli("report " + source.string() + " " + transfer_dir.string() +
                            " --log-level warn --out " + report_dir.string(),
                        tmp_.path());
  ASSERT_EQ(report.exit_code, 0) << report.err;
  const std::string md = testing::read_text(report_dir / "report.md");
  EXPECT_NE(md.find("features"), std::string::npos);  // the transfer table is in it
  EXPECT_TRUE(std::filesystem::exists(report_dir / "report.html"));

  auto bad = run_cli("transfer --source " + (tmp_ / "no-model").string() + common_ +
                         " --out " + (tmp_ / "t2").string(),
                     tmp_.path());
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("no-model"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace fedsign
