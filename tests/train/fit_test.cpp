// Training-loop tests on small generated data: learning happens, resume repeats an
// uninterrupted run exactly, bad checkpoints are reported, and with a weight EMA model.pt is
// the average (weight_ema.h; its arithmetic: weight_ema_test.cpp).
#include "fedsign/train/fit.h"

#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "fedsign/core/check.h"
#include "fedsign/data/gtsrb_reader.h"
#include "fedsign/data/image_loader.h"
#include "fedsign/data/split.h"
#include "fedsign/models/registry.h"
#include "fedsign/models/weights.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::train {
namespace {

data::ImageSet make_set(const std::filesystem::path& dir, int classes) {
  testing::write_kaggle_dataset(dir,
      {.num_classes = classes, .tracks_per_class = 4, .frames_per_track = 4});
  data::LoadOptions load;
  load.progress = false;
  return data::load_images(data::find_dataset(dir), load);
}

TrainConfig small_config(int epochs) {
  TrainConfig c;
  c.model = "compact";
  c.epochs = epochs;
  c.batch_size = 32;
  c.optimizer.lr = 3e-3;
  c.warmup_epochs = 0;
  c.precision = "fp32";
  c.threads = 1;
  c.seed = 5;
  return c;
}

TEST(Fit, LearnsGeneratedSignsAndWritesRunDirectory) {
  testing::TempDir tmp;
  auto set = make_set(tmp / "data", 6);
  auto split = data::split_by_track(set, 0.25, 1);
  RunOptions run;
  run.run_dir = tmp / "run";
  auto result = fit(set, split, small_config(8), run);
  ASSERT_EQ(result.history.size(), 8u);
  EXPECT_LT(result.history.back().train_loss, result.history.front().train_loss);
  EXPECT_GT(result.best_val_accuracy, 0.5);  // chance is 1/6
  for (const char* file : {"metrics.csv", "loss.png", "accuracy.png", "model.pt", "last.ckpt"}) {
    EXPECT_TRUE(std::filesystem::exists(run.run_dir / file)) << file;
  }
  std::ifstream metrics(run.run_dir / "metrics.csv");
  int lines = 0;
  for (std::string line; std::getline(metrics, line);) ++lines;
  EXPECT_EQ(lines, 9);  // header + one row per epoch
}

// A partial run trains its groups and leaves everything else as it started, BatchNorm running
// statistics of frozen stages included (held in eval mode, as on the federated clients).
TEST(Fit, PartialRunsMoveTheirGroupsAndLeaveFrozenTensorsAndStatistics) {
  testing::TempDir tmp;
  auto set = make_set(tmp / "data", 4);
  auto split = data::split_by_track(set, 0.25, 1);
  models::ModelOptions options;
  options.input_size = set.height;
  auto start = models::create_model("compact", options);
  models::save_weights(*start, tmp / "start.pt");
  const auto before = models::state_tensors(*start);
  std::vector<std::string> names;
  for (const auto& [name, tensor] : before) names.push_back(name);
  struct Case {
    std::vector<std::string> groups;
    int trained_tensors;
  };
  for (const Case& c : {Case{{"batchnorm", "head"}, 2 + 2 * 7}, Case{{"head"}, 2}}) {
    SCOPED_TRACE(fmt::format("{}", fmt::join(c.groups, ",")));
    RunOptions run;
    run.run_dir = tmp / ("run-" + std::to_string(c.trained_tensors));
    run.init_weights = tmp / "start.pt";
    run.trainable_groups = c.groups;
    const auto result = fit(set, split, small_config(1), run);
    auto trained = models::create_model("compact", options);
    models::load_weights(*trained, result.best_model);
    const auto after = models::state_tensors(*trained);
    ASSERT_EQ(before.size(), after.size());
    const std::vector<bool> trainable = models::trainable_mask(*start, names, c.groups);
    int moved = 0;
    for (std::size_t i = 0; i < before.size(); ++i) {
      const bool same = torch::equal(before[i].second, after[i].second);
      if (trainable[i]) {
        moved += same ? 0 : 1;
      } else if (names[i].find("num_batches_tracked") == std::string::npos) {
        EXPECT_TRUE(same) << names[i] << " moved although frozen";  // convs, running statistics
      }
    }
    EXPECT_EQ(moved, c.trained_tensors);
  }
}

// A run straight through, and the same run resumed from the run directory as a crash after
// epoch 2 would leave it.
struct StraightAndResumed {
  FitResult straight, resumed;
  std::filesystem::path straight_dir, resumed_dir;
};

StraightAndResumed run_straight_and_resumed(const data::ImageSet& set, const data::TrackSplit& split,
                                            const TrainConfig& config, RunOptions options,
                                            const std::filesystem::path& dir) {
  StraightAndResumed out;
  out.straight_dir = options.run_dir = dir / "straight";
  out.resumed_dir = dir / "crashed";
  out.straight = fit(set, split, config, options, [&](const EpochRecord& r) {
    if (r.epoch == 2) std::filesystem::copy(out.straight_dir, out.resumed_dir);
  });
  options.run_dir = out.resumed_dir;
  options.resume = true;
  out.resumed = fit(set, split, config, options);
  return out;
}

void expect_same_parameters(const std::filesystem::path& a_file, const std::filesystem::path& b_file) {
  auto a = models::create_model("compact");
  auto b = models::create_model("compact");
  models::load_weights(*a, a_file);
  models::load_weights(*b, b_file);
  auto pb = b->named_parameters();
  for (const auto& item : a->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << item.key();
  }
}

TEST(Fit, ResumeRepeatsAnUninterruptedRun) {
  testing::TempDir tmp;
  auto set = make_set(tmp / "data", 4);
  auto split = data::split_by_track(set, 0.25, 1);
  const auto runs = run_straight_and_resumed(set, split, small_config(3), {}, tmp.path());
  const auto& full = runs.straight;
  const auto& resumed = runs.resumed;
  ASSERT_EQ(resumed.history.size(), 3u);
  EXPECT_EQ(resumed.history[2].train_loss, full.history[2].train_loss);
  EXPECT_EQ(resumed.history[2].val_accuracy, full.history[2].val_accuracy);
  EXPECT_EQ(resumed.best_epoch, full.best_epoch);
  expect_same_parameters(full.best_model, resumed.best_model);
}

TEST(Fit, TruncatedCheckpointIsReported) {
  testing::TempDir tmp;
  auto set = make_set(tmp / "data", 3);
  auto split = data::split_by_track(set, 0.25, 1);
  RunOptions run;
  run.run_dir = tmp / "run";
  fit(set, split, small_config(1), run);
  testing::truncate_file(run.run_dir / "last.ckpt", 0.5);
  run.resume = true;
  try {
    fit(set, split, small_config(2), run);
    FAIL() << "expected an error";
  } catch (const fedsign::Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("last.ckpt"), std::string::npos) << message;
    EXPECT_NE(message.find("truncated or corrupt"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
  }
}

TEST(Fit, ResumeWithoutCheckpointIsReported) {
  testing::TempDir tmp;
  auto set = make_set(tmp / "data", 2);
  auto split = data::split_by_track(set, 0.25, 1);
  RunOptions run;
  run.run_dir = tmp / "run";
  run.resume = true;
  EXPECT_THROW(fit(set, split, small_config(1), run), fedsign::Error);
}

// --weight-ema: model.pt is the average, model_raw.pt the trained weights, and a resumed run
// continues the same average.
// --weight-ema: model.pt is the average, model_raw.pt the trained weights, and a resumed run
// continues the same average.
TEST(FitWeightEma, ModelPtIsTheAverageAndAResumedRunContinuesIt) {
  testing::TempDir tmp;
  auto set = make_set(tmp / "data", 4);
  auto split = data::split_by_track(set, 0.25, 1);
  RunOptions options;
  options.weight_ema = 0.9;
  const auto runs = run_straight_and_resumed(set, split, small_config(3), options, tmp.path());
  const auto& full = runs.straight;
  ASSERT_EQ(full.history.size(), 3u);
  EXPECT_NE(testing::read_text(runs.straight_dir / "metrics.csv").find("ema_val_accuracy"),
            std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(full.raw_model));
  for (const auto& r : full.history) EXPECT_GT(r.ema_val_loss, 0.0) << r.epoch;

  // model.pt is the average, not the trained weights: they differ, and the selected epoch's
  // recorded validation accuracy is the average's.
  auto average = models::create_model("compact");
  auto raw = models::create_model("compact");
  models::load_weights(*average, full.best_model);
  models::load_weights(*raw, full.raw_model);
  EXPECT_FALSE(torch::equal(average->parameters()[0], raw->parameters()[0]));
  EXPECT_EQ(full.best_val_accuracy, full.history[full.best_epoch - 1].ema_val_accuracy);
  EXPECT_EQ(full.raw_best_val_accuracy, full.history[full.raw_best_epoch - 1].val_accuracy);

  const auto& resumed = runs.resumed;
  EXPECT_EQ(resumed.history[2].ema_val_loss, full.history[2].ema_val_loss);
  EXPECT_EQ(resumed.best_epoch, full.best_epoch);
  EXPECT_EQ(resumed.raw_best_epoch, full.raw_best_epoch);
  expect_same_parameters(full.best_model, resumed.best_model);

  // A checkpoint with an average does not resume without one.
  RunOptions plain;
  plain.run_dir = runs.resumed_dir;
  plain.resume = true;
  try {
    fit(set, split, small_config(3), plain);
    FAIL() << "expected an error";
  } catch (const fedsign::Error& e) {
    EXPECT_NE(std::string(e.what()).find("weight EMA"), std::string::npos) << e.what();
  }
}

TEST(FitWeightEma, RefusesARunWithoutValidation) {
  testing::TempDir tmp;
  auto set = make_set(tmp / "data", 4);
  auto split = data::split_by_track(set, 0.0, 1);
  RunOptions run;
  run.run_dir = tmp / "run";
  run.weight_ema = 0.9;
  EXPECT_THROW(fit(set, split, small_config(3), run), fedsign::Error);
}

}  // namespace
}  // namespace fedsign::train
