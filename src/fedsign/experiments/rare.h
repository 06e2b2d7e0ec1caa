// The rare-sign protocol: can fedsign read signs it never saw a real photo of, by learning them
// from rendered pictograms?
//
//   1. Split the real data by track (validation keeps every class, rare ones included).
//   2. Rare classes = the K rarest by training count (or a given list); drop ALL their real
//      training images.
//   3. Pretrain on the real frequent classes.
//   4. Per variant, fine-tune (full / partial / head) on the real frequent data mixed with
//      synthetic images (all classes or rare only) at a ratio; optionally with class-balanced
//      batches and a supervised-contrastive loss.
//   5. Evaluate every variant on the real validation split: accuracy on all / rare / frequent
//      classes, per-class accuracy of the rare ones; report.md, report.csv, report.png. With a
//      test split (split.test, --test-fraction) each variant's final model is scored there too,
//      once, and the report gets test columns beside the validation ones.
//
// No model selection on validation: every training run keeps its last epoch's weights.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "fedsign/data/image_loader.h"
#include "fedsign/data/image_set.h"
#include "fedsign/data/split.h"
#include "fedsign/experiments/renders.h"
#include "fedsign/train/train_config.h"
#include "fedsign/vision/synth.h"

namespace fedsign::experiments {

// ---- pure steps (tested on their own) ----

// The `count` classes with the fewest images in `counts` (ties: lower id first), among classes
// with at least one image. Sorted by id.
std::vector<int> rarest_classes(const std::vector<int64_t>& counts, int count);

// `real` followed by round(ratio * |real|) synthetic indices: a seeded shuffle of `synthetic`,
// repeated if it is too short. ratio <= 0: `real` alone.
data::Indices mix_indices(const data::Indices& real, const data::Indices& synthetic, double ratio,
                          uint64_t seed);

// The protocol's invariant: "" if no index of `train` below `real_images` (a real image) has a
// class of `rare_classes` or lies outside `real_train` (the real training split); else a
// one-line description of the first offending image.
std::string withheld_image_leak(const data::ImageSet& set, std::size_t real_images,
                                const std::vector<int>& rare_classes, const data::Indices& real_train,
                                const data::Indices& train);

struct GroupAccuracy {
  double all = 0, rare = 0, frequent = 0;
  int64_t n_all = 0, n_rare = 0, n_frequent = 0;
  std::vector<double> per_class;  // accuracy per class id (0 where no examples)
  std::vector<int64_t> support;   // examples per class id
};

GroupAccuracy group_accuracy(const std::vector<int>& truth, const std::vector<int>& predicted,
                             const std::vector<int>& rare_classes, int num_classes = 43);

// ---- protocol ----

struct RareVariantResult {
  std::string name;
  std::string description;
  GroupAccuracy accuracy;  // on the validation split
  GroupAccuracy test;      // on the test split, read once after training (n_all 0: none)
  double train_seconds = 0;
};

struct RareConfig {
  std::vector<int> rare_classes;  // explicit list; empty: the rare_count rarest
  int rare_count = 10;
  // Synthetic data.
  std::filesystem::path meta_dir;       // pictograms
  std::filesystem::path backgrounds;    // optional photo folder
  std::filesystem::path synth_dir;      // where rendered images go (reused if they match)
  int synth_per_class = 300;
  std::string synth_classes = "all";    // all | rare
  uint64_t synth_seed = 1;
  int synth_threads = 0;
  vision::SynthOptions synth;
  data::LoadOptions load;               // same decoding as the real data (size, contrast)
  // Training.
  train::TrainConfig train;             // epochs is ignored; see below
  int64_t pretrain_epochs = 6;
  int64_t epochs = 6;                   // fine-tuning epochs per variant
  double mix_ratio = 0.5;               // synthetic images per real image in fine-tuning
  bool pretrain_synthetic = false;      // also mix synthetic images into pretraining
  std::string fine_tune = "full";       // full | partial | head
  int fine_tune_groups = 2;             // partial: last N layer groups
  double fine_tune_lr = 0;              // 0: train.optimizer.lr
  // Variants: "no-synthetic" (the pretrained model), "synthetic" (fine-tune on the mix),
  // "synthetic-supcon" (plus balanced batches and SupCon), "scratch" (from scratch on the mix
  // for pretrain_epochs + epochs).
  std::vector<std::string> variants = {"no-synthetic", "synthetic", "synthetic-supcon"};
  int64_t classes_per_batch = 16;       // synthetic-supcon
  int64_t images_per_class = 8;
  double contrastive_weight = 0.2;
  double contrastive_temperature = 0.1;
};

struct RareResult {
  std::vector<int> rare_classes;
  // Every training run's image indices (into the real images followed by the synthetic ones;
  // indices below real_images are real), by run name: "pretrain" and the trained variants.
  std::map<std::string, data::Indices> training_sets;
  std::size_t real_images = 0;
  std::vector<int64_t> real_train_counts;  // per class, before removing rare images
  std::vector<RareVariantResult> variants;
  std::size_t synthetic_images = 0;
  double synth_images_per_minute = 0;  // 0 if reused from synth_dir
  std::filesystem::path report_md;
};

// Runs the protocol on `real` (decoded real training data) with `split` (track split of it)
// and writes everything to `run_dir`.
RareResult run_rare_protocol(const data::ImageSet& real, const data::TrackSplit& split,
                             const RareConfig& config, const std::filesystem::path& run_dir);

// Renders (or reuses, when synth_dir holds the same request) and decodes the synthetic set:
// prepare_renders() with the config's synthetic-data settings.
data::ImageSet prepare_synthetic(const RareConfig& config, const std::vector<int>& classes,
                                 double* images_per_minute);

// report.md, report.csv, report.png in `dir`.
void write_rare_report(const std::filesystem::path& dir, const RareResult& result,
                       const std::string& command_line = "");

}  // namespace fedsign::experiments
