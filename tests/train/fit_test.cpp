// Training-loop tests on small generated data: learning happens, resume repeats an
// uninterrupted run exactly, and bad checkpoints are reported.
#include "fedsign/train/fit.h"

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

TEST(Fit, ResumeRepeatsAnUninterruptedRun) {
  testing::TempDir tmp;
  auto set = make_set(tmp / "data", 4);
  auto split = data::split_by_track(set, 0.25, 1);
  const TrainConfig config = small_config(3);

  // The uninterrupted run; after epoch 2 we snapshot its run directory as a crash would leave it.
  RunOptions straight;
  straight.run_dir = tmp / "straight";
  const std::filesystem::path crashed = tmp / "crashed";
  auto full = fit(set, split, config, straight, [&](const EpochRecord& r) {
    if (r.epoch == 2) std::filesystem::copy(straight.run_dir, crashed);
  });

  RunOptions resume;
  resume.run_dir = crashed;
  resume.resume = true;
  auto resumed = fit(set, split, config, resume);
  ASSERT_EQ(resumed.history.size(), 3u);
  EXPECT_EQ(resumed.history[2].train_loss, full.history[2].train_loss);
  EXPECT_EQ(resumed.history[2].val_accuracy, full.history[2].val_accuracy);
  EXPECT_EQ(resumed.best_epoch, full.best_epoch);

  auto a = models::create_model("compact");
  auto b = models::create_model("compact");
  models::load_weights(*a, straight.run_dir / "model.pt");
  models::load_weights(*b, crashed / "model.pt");
  auto pb = b->named_parameters();
  for (const auto& item : a->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << item.key();
  }
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

}  // namespace
}  // namespace fedsign::train
