// Transfer modes: which parameters each mode trains (exact names and counts), what is loaded
// from the source, the head wrapper and label mapping, and a tiny end-to-end run.
#include "fedsign/experiments/transfer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <fstream>

#include "fedsign/core/check.h"
#include "fedsign/data/gtsrb_reader.h"
#include "fedsign/data/image_loader.h"
#include "fedsign/experiments/transfer_models.h"
#include "fedsign/models/registry.h"
#include "fedsign/models/weights.h"
#include "fedsign/train/evaluate.h"
#include "fedsign/train/model_bundle.h"
#include "fedsign/train/precision.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::experiments {
namespace {

// A compact source model with `classes` outputs saved as run_dir/model.pt + model.json.
TransferSource write_source(const std::filesystem::path& dir, int64_t classes) {
  std::filesystem::create_directories(dir);
  torch::manual_seed(123);
  auto model = models::create_model("compact", {.num_classes = classes});
  models::save_weights(*model, dir / "model.pt");
  train::save_model_info(dir / "model.json", {"compact", classes, 32, "none"});
  return resolve_transfer_source(dir);
}

// A generated 4-class dataset (3 frames per track) decoded at `size` px.
data::ImageSet four_class_set(const std::filesystem::path& dir, int tracks_per_class, int size) {
  testing::FixtureOptions fixture;
  fixture.num_classes = 4;
  fixture.tracks_per_class = tracks_per_class;
  fixture.frames_per_track = 3;
  testing::write_kaggle_dataset(dir, fixture);
  data::LoadOptions load;
  load.progress = false;
  load.threads = 1;
  load.size = size;
  return data::load_images(data::find_dataset(dir), load);
}

std::vector<std::string> names_with_prefix(const models::Classifier& model,
                                           const std::vector<std::string>& prefixes,
                                           const std::string& add = "") {
  std::vector<std::string> names;
  for (const auto& item : model.named_parameters()) {
    for (const auto& p : prefixes) {
      if (item.key().starts_with(p)) names.push_back(add + item.key());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

torch::Tensor param(const models::Classifier& model, const std::string& name) {
  return model.named_parameters()[name];
}

class TransferModes : public ::testing::Test {
 protected:
  void SetUp() override {
    source_ = write_source(tmp_ / "source", 43);
    options_.config.seed = 7;
    reference_ = models::create_model("compact", {.num_classes = 43});
    models::load_weights(*reference_, source_.weights);
  }
  testing::TempDir tmp_;
  TransferSource source_;
  TransferOptions options_;
  std::shared_ptr<models::Classifier> reference_;
};

TEST_F(TransferModes, SourceIsResolvedFromRunDirectory) {
  EXPECT_EQ(source_.architecture, "compact");
  EXPECT_EQ(source_.num_classes, 43);
  EXPECT_TRUE(source_.has_info);
  EXPECT_EQ(source_.weights, tmp_ / "source" / "model.pt");
  // A bare .pt without model.json needs the architecture.
  std::filesystem::copy(source_.weights, tmp_ / "export.pt");
  EXPECT_THROW(resolve_transfer_source(tmp_ / "export.pt"), Error);
  EXPECT_EQ(resolve_transfer_source(tmp_ / "export.pt", "compact", 43).architecture, "compact");
  EXPECT_THROW(resolve_transfer_source(tmp_ / "missing.pt", "compact"), Error);
}

TEST_F(TransferModes, DirectTrainsNothingAndReproducesTheSource) {
  auto model = build_transfer_model(TransferMode::kDirect, source_, options_);
  EXPECT_TRUE(trainable_parameter_names(*model).empty());
  EXPECT_EQ(models::count_parameters(*model, true), 0);
  EXPECT_EQ(models::count_parameters(*model), 593931);
  model->eval();
  reference_->eval();
  torch::NoGradGuard no_grad;
  auto x = torch::randn({2, 3, 32, 32});
  EXPECT_TRUE(torch::allclose(model->forward(x), reference_->forward(x)));
}

TEST_F(TransferModes, ScratchTrainsEverythingFromAFreshInit) {
  auto model = build_transfer_model(TransferMode::kScratch, source_, options_);
  EXPECT_EQ(trainable_parameter_names(*model), names_with_prefix(*reference_, {""}));
  EXPECT_EQ(models::count_parameters(*model, true), 593931);
  EXPECT_FALSE(torch::equal(param(*model, "stage1.0.weight"), param(*reference_, "stage1.0.weight")));
}

TEST_F(TransferModes, FeaturesTrainsOnlyTheNewHead) {
  options_.head_hidden = {16};
  auto model = build_transfer_model(TransferMode::kFeatures, source_, options_);
  const std::vector<std::string> expected = {"head.0.bias", "head.0.weight", "head.3.bias",
                                             "head.3.weight"};
  EXPECT_EQ(trainable_parameter_names(*model), expected);
  EXPECT_EQ(models::count_parameters(*model, true), 256 * 16 + 16 + 16 * 43 + 43);
  // The body is the source's, loaded.
  EXPECT_TRUE(torch::equal(param(*model, "body.stage4.0.weight"),
                           param(*reference_, "stage4.0.weight")));
  // The frozen body stays in eval mode (BatchNorm statistics fixed) while the head trains.
  model->train();
  auto& wrapper = dynamic_cast<MlpHeadClassifier&>(*model);
  EXPECT_FALSE(wrapper.body().is_training());
  EXPECT_TRUE(model->is_training());
  const auto mean_before = model->named_buffers()["body.stage1.1.running_mean"].clone();
  model->forward(torch::randn({4, 3, 32, 32}) * 3 + 1);
  EXPECT_TRUE(torch::equal(mean_before, model->named_buffers()["body.stage1.1.running_mean"]));
  EXPECT_EQ(model->layer_groups(),
            (std::vector<std::string>{"stage1", "stage2", "stage3", "stage4", "head"}));
  EXPECT_EQ(model->group_of("body.head.weight"), "source_head");
}

TEST_F(TransferModes, FeaturesWithoutHiddenLayersIsALinearHead) {
  auto model = build_transfer_model(TransferMode::kFeatures, source_, options_);
  EXPECT_EQ(trainable_parameter_names(*model),
            (std::vector<std::string>{"head.0.bias", "head.0.weight"}));
  EXPECT_EQ(models::count_parameters(*model, true), 256 * 43 + 43);
}

TEST_F(TransferModes, FinetuneTrainsEverythingFromTheSourceWithANewHead) {
  auto model = build_transfer_model(TransferMode::kFinetune, source_, options_);
  EXPECT_EQ(trainable_parameter_names(*model), names_with_prefix(*reference_, {""}));
  EXPECT_TRUE(torch::equal(param(*model, "stage1.0.weight"), param(*reference_, "stage1.0.weight")));
  EXPECT_FALSE(torch::equal(param(*model, "head.weight"), param(*reference_, "head.weight")));
  options_.keep_head = true;
  auto kept = build_transfer_model(TransferMode::kFinetune, source_, options_);
  EXPECT_TRUE(torch::equal(param(*kept, "head.weight"), param(*reference_, "head.weight")));
}

TEST_F(TransferModes, PartialTrainsTheLastGroups) {
  auto model = build_transfer_model(TransferMode::kPartial, source_, options_);
  EXPECT_EQ(trainable_parameter_names(*model), names_with_prefix(*reference_, {"stage4.", "head."}));
  // stage4: conv 128->256 3x3 (no bias) + BN (weight, bias); head 256x43 + 43.
  EXPECT_EQ(models::count_parameters(*model, true), 128 * 256 * 9 + 2 * 256 + 256 * 43 + 43);
  options_.partial_groups = 3;
  auto three = build_transfer_model(TransferMode::kPartial, source_, options_);
  EXPECT_EQ(trainable_parameter_names(*three),
            names_with_prefix(*reference_, {"stage3.", "stage4.", "head."}));
}

TEST_F(TransferModes, HeadOfAnotherClassCountIsReplaced) {
  auto ten = write_source(tmp_ / "ten", 10);
  auto model = build_transfer_model(TransferMode::kFinetune, ten, options_);
  EXPECT_EQ(model->num_classes(), 43);
  auto direct = build_transfer_model(TransferMode::kDirect, ten, options_);
  direct->eval();
  torch::NoGradGuard no_grad;
  auto logits = direct->forward(torch::randn({3, 3, 32, 32}));
  ASSERT_EQ(logits.sizes(), (std::vector<int64_t>{3, 43}));
  EXPECT_TRUE(logits.slice(1, 10).eq(-1e4).all().item<bool>());  // unmapped classes never win
  EXPECT_LT(logits.argmax(1).max().item<int64_t>(), 10);
}

TEST(TransferLabelMap, ReadsPairsAndRejectsBadLines) {
  testing::TempDir tmp;
  testing::write_text(tmp / "map.csv", "source,target\n0,5\n2,7\n# comment\n");
  const auto map = read_label_map((tmp / "map.csv").string(), 3, 43);
  EXPECT_EQ(map, (std::vector<int>{5, -1, 7}));
  testing::write_text(tmp / "bad.csv", "0,5\n3,1\n");
  EXPECT_THROW(read_label_map((tmp / "bad.csv").string(), 3, 43), Error);
}

TEST(TransferModeNames, ParseAndPrint) {
  EXPECT_EQ(parse_transfer_modes("direct, finetune"),
            (std::vector<TransferMode>{TransferMode::kDirect, TransferMode::kFinetune}));
  EXPECT_EQ(parse_transfer_modes("all").size(), 5u);
  EXPECT_THROW(parse_transfer_modes("direct,bogus"), Error);
  for (auto m : parse_transfer_modes("all")) EXPECT_EQ(parse_transfer_mode(to_string(m)), m);
}

TEST(TransferRun, AllModesEndToEndOnGeneratedData) {
  testing::TempDir tmp;
  const auto set = four_class_set(tmp / "data", 3, 40);  // "upscaled" from the source's 32 px
  const auto split = data::split_by_track(set, 0.3, 1);
  const auto source = write_source(tmp / "source", 43);

  TransferOptions options;
  options.input_size = 40;
  options.head_hidden = {32};
  options.config.epochs = 2;
  options.config.batch_size = 16;
  options.config.warmup_epochs = 0;
  options.config.precision = "fp32";
  options.config.threads = 1;
  int epochs_seen = 0;
  const auto results = run_transfer(set, split, source, options, tmp / "run",
                                    [&](TransferMode, const TransferEpoch&) { ++epochs_seen; });
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(epochs_seen, 4 * 2);
  EXPECT_TRUE(results[0].history.empty());
  EXPECT_EQ(results[0].train_seconds, 0.0);
  const double n_validation = static_cast<double>(split.validation.size());
  for (const auto& r : results) {
    SCOPED_TRACE(to_string(r.mode));
    const double correct = r.val_accuracy * n_validation;  // a count of validation images
    EXPECT_NEAR(correct, std::round(correct), 1e-6);
    EXPECT_GT(r.val_loss, 0.0);
    if (r.mode != TransferMode::kDirect) {
      ASSERT_EQ(r.history.size(), 2u);
      EXPECT_GT(r.train_seconds, 0.0);
      // The reported figure is the last epoch's (no selection on the validation split).
      EXPECT_EQ(r.val_accuracy, r.history.back().val_accuracy);
      EXPECT_EQ(r.val_loss, r.history.back().val_loss);
    }
  }
  // The reported figures are those of the saved models, re-measured independently.
  const auto compute = train::resolve_compute_mode("fp32", "contiguous");
  for (const auto& r : results) {
    if (r.mode == TransferMode::kDirect || r.mode == TransferMode::kFeatures) continue;  // no model.pt
    SCOPED_TRACE(to_string(r.mode));
    auto bundle = train::load_model_bundle(tmp / "run" / to_string(r.mode));
    const auto p = train::predict_subset(*bundle.model, set, split.validation, compute);
    EXPECT_DOUBLE_EQ(p.accuracy(), r.val_accuracy);
    EXPECT_NEAR(p.mean_loss, r.val_loss, 1e-4 * std::max(1.0, r.val_loss));
  }
  for (const char* f : {"transfer.md", "transfer.csv", "transfer_accuracy.png",
                        "transfer_loss.png"}) {
    EXPECT_TRUE(std::filesystem::exists(tmp / "run" / f)) << f;
  }
  for (const char* f : {"scratch/accuracy.png", "finetune/model.pt", "finetune/model.json",
                        "partial/metrics.csv", "features/loss.png"}) {
    EXPECT_TRUE(std::filesystem::exists(tmp / "run" / f)) << f;
  }
  const std::string md = testing::read_text(tmp / "run" / "transfer.md");
  for (const char* mode : {"direct", "scratch", "features", "finetune", "partial"}) {
    EXPECT_NE(md.find(std::string("| ") + mode + " |"), std::string::npos) << mode;
  }
  std::ifstream csv(tmp / "run" / "transfer.csv");
  int lines = 0;
  for (std::string line; std::getline(csv, line);) ++lines;
  EXPECT_EQ(lines, 6);
  // The fine-tuned model is a usable bundle.
  auto bundle = train::load_model_bundle(tmp / "run" / "finetune");
  EXPECT_EQ(bundle.info.input_size, 40);
  // Without a test split there is no test column, and the table calls validation validation.
  EXPECT_EQ(md.find("test split"), std::string::npos);
  EXPECT_NE(md.find("| validation accuracy |"), std::string::npos);
  for (const auto& r : results) EXPECT_EQ(r.test_images, 0u);
}

// With a test split, each mode's final model is scored there once: the figure is that of the
// saved model on exactly the test tracks, and the tables get a test column.
TEST(TransferRun, FinalModelOfEachModeIsScoredOnTheTestSplit) {
  testing::TempDir tmp;
  const auto set = four_class_set(tmp / "data", 4, 32);
  const auto split = data::split_by_track(set, 0.25, 1, 0.25);
  ASSERT_EQ(split.test.size(), 4u * 3);
  const auto source = write_source(tmp / "source", 43);

  TransferOptions options;
  options.modes = {TransferMode::kDirect, TransferMode::kFinetune};
  options.config.epochs = 1;
  options.config.batch_size = 16;
  options.config.warmup_epochs = 0;
  options.config.precision = "fp32";
  options.config.threads = 1;
  const auto results = run_transfer(set, split, source, options, tmp / "run", {});
  ASSERT_EQ(results.size(), 2u);
  const auto compute = train::resolve_compute_mode("fp32", "contiguous");
  for (const auto& r : results) {
    SCOPED_TRACE(to_string(r.mode));
    EXPECT_EQ(r.test_images, split.test.size());
    EXPECT_GT(r.test_loss, 0.0);
    const double correct = r.test_accuracy * static_cast<double>(split.test.size());
    EXPECT_NEAR(correct, std::round(correct), 1e-6);
  }
  auto bundle = train::load_model_bundle(tmp / "run" / "finetune");
  const auto p = train::predict_subset(*bundle.model, set, split.test, compute);
  EXPECT_DOUBLE_EQ(p.accuracy(), results[1].test_accuracy);
  const std::string md = testing::read_text(tmp / "run" / "transfer.md");
  EXPECT_NE(md.find("| test split accuracy |"), std::string::npos);
  EXPECT_NE(testing::read_text(tmp / "run" / "transfer.csv").find("test_accuracy"), std::string::npos);
}

}  // namespace
}  // namespace fedsign::experiments
