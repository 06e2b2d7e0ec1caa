// Metric-learning losses against values computed by hand on tiny inputs.
#include "fedsign/train/contrastive_loss.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "fedsign/core/check.h"
#include "fedsign/data/gtsrb_reader.h"
#include "fedsign/data/image_loader.h"
#include "fedsign/data/split.h"
#include "fedsign/models/registry.h"
#include "fedsign/train/evaluate.h"
#include "fedsign/train/trainer.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::train {
namespace {

torch::Tensor rows(std::vector<float> values, int64_t n) {
  return torch::tensor(values).view({n, -1});
}

TEST(SupCon, TwoPositivesOneLoneAnchor) {
  // z0 = z1 = (1,0) same class, z2 = (0,1) alone (no positive: not an anchor).
  // Anchor 0: -log(e^{1/t} / (e^{1/t} + e^0)) = log(1 + e^{-1/t}); anchor 1 the same.
  const auto z = rows({1, 0, 1, 0, 0, 1}, 3);
  const auto y = torch::tensor({0, 0, 1}, torch::kInt64);
  EXPECT_NEAR(supcon_loss(z, y, 1.0).item<double>(), std::log(1 + std::exp(-1.0)), 1e-5);
  EXPECT_NEAR(supcon_loss(z, y, 0.5).item<double>(), std::log(1 + std::exp(-2.0)), 1e-5);
  // Scale does not matter: embeddings are L2-normalized.
  EXPECT_NEAR(supcon_loss(z * 7.0, y, 0.5).item<double>(), std::log(1 + std::exp(-2.0)), 1e-5);
}

TEST(SupCon, FourSamplesTwoClasses) {
  // z = (1,0), (0.6,0.8), (0,1), (-1,0), labels 0,0,1,1, t = 0.5; the sum of the four anchors'
  // -log p(positive) terms divided by 4, computed by hand (see the formula in the header).
  const auto z = rows({1, 0, 0.6f, 0.8f, 0, 1, -1, 0}, 4);
  const auto y = torch::tensor({0, 0, 1, 1}, torch::kInt64);
  EXPECT_NEAR(supcon_loss(z, y, 0.5).item<double>(), 0.8860777536572333, 1e-5);
}

TEST(SupCon, NoPositivesGivesZeroWithGradient) {
  auto z = rows({1, 0, 0, 1}, 2).set_requires_grad(true);
  const auto loss = supcon_loss(z, torch::tensor({0, 1}, torch::kInt64), 0.1);
  EXPECT_EQ(loss.item<double>(), 0.0);
  loss.backward();
  EXPECT_TRUE(z.grad().defined());
}

TEST(SupCon, GradientPullsPositivesTogether) {
  auto z = rows({1, 0, 0.6f, 0.8f, 0, 1, -1, 0}, 4).set_requires_grad(true);
  const auto y = torch::tensor({0, 0, 1, 1}, torch::kInt64);
  const double before = supcon_loss(z, y, 0.5).item<double>();
  supcon_loss(z, y, 0.5).backward();
  const auto moved = (z - 0.1 * z.grad()).detach();
  EXPECT_LT(supcon_loss(moved, y, 0.5).item<double>(), before);
}

TEST(PairwiseContrastive, HandComputed) {
  // (0,0), (3,4) same class: d = 5 -> 25. (0,0)-(0,1) different, margin 2: (2-1)^2 = 1.
  // (3,4)-(0,1) different: d = sqrt(18) > 2 -> 0. Mean over 3 pairs: 26/3.
  const auto z = rows({0, 0, 3, 4, 0, 1}, 3);
  const auto y = torch::tensor({0, 0, 1}, torch::kInt64);
  EXPECT_NEAR(pairwise_contrastive_loss(z, y, 2.0).item<double>(), 26.0 / 3.0, 1e-4);
  // Normalized: (0,0) stays ~0; (0.6,0.8) vs 0: same, d^2 = 1; (0,0)-(0,1): d = 1 -> 1;
  // (0.6,0.8)-(0,1): d^2 = 0.36 + 0.04 = 0.4, d = 0.632 -> (2 - 0.632)^2.
  const double d = std::sqrt(0.4);
  EXPECT_NEAR(pairwise_contrastive_loss(z, y, 2.0, true).item<double>(),
              (1.0 + 1.0 + (2 - d) * (2 - d)) / 3.0, 1e-4);
}

TEST(ContrastiveLoss, RejectsMismatchedInput) {
  EXPECT_THROW(supcon_loss(torch::zeros({3, 2}), torch::zeros({2}, torch::kInt64)), Error);
  EXPECT_THROW(supcon_loss(torch::zeros({3, 2}), torch::zeros({3}, torch::kInt64), 0.0), Error);
  EXPECT_THROW(pairwise_contrastive_loss(torch::zeros({3}), torch::zeros({3}, torch::kInt64)), Error);
}

// Trainer with the balanced sampler and SupCon on the embedding: P x K batches, learns.
TEST(TrainerMetricLearning, BalancedSupConLearnsGeneratedSigns) {
  testing::TempDir tmp;
  testing::write_kaggle_dataset(tmp / "data",
      {.num_classes = 6, .tracks_per_class = 4, .frames_per_track = 4});
  data::LoadOptions load;
  load.progress = false;
  const auto set = data::load_images(data::find_dataset(tmp / "data"), load);
  const auto split = data::split_by_track(set, 0.25, 1);

  TrainConfig c;
  c.epochs = 15;
  c.optimizer.lr = 3e-3;
  c.warmup_epochs = 0;
  c.precision = "fp32";
  c.threads = 1;
  c.seed = 5;
  c.sampler = "balanced";
  c.classes_per_batch = 4;
  c.images_per_class = 6;
  c.contrastive_weight = 0.5;
  c.contrastive_temperature = 0.2;
  EXPECT_EQ(steps_per_epoch(c, split.train.size()),
            static_cast<int64_t>((split.train.size() + 23) / 24));
  torch::manual_seed(c.seed);
  auto model = models::create_model("compact", {6, set.height, -1.0});
  Trainer trainer(model, c, make_schedule(c, steps_per_epoch(c, split.train.size())));
  TrainStats first, last;
  for (int64_t e = 1; e <= c.epochs; ++e) {
    last = trainer.train_epoch(set, split.train, e);
    if (e == 1) first = last;
    EXPECT_EQ(last.examples, last.steps * 24);
  }
  EXPECT_LT(last.mean_loss, first.mean_loss);
  const auto val = predict_subset(*model, set, split.validation, trainer.compute_mode());
  EXPECT_GT(val.accuracy(), 0.4);  // chance is 1/6
  // Step-based training (federated clients) works with the sampler too.
  EXPECT_EQ(trainer.train_steps(set, split.train, 3, 1).steps, 3);
}

}  // namespace
}  // namespace fedsign::train
