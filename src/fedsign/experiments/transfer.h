// Transfer learning on GTSRB from a source model: the standard modes side by side.
//
//   direct    the source model as is (no training); its classes mapped onto GTSRB's
//   scratch   the source architecture, freshly initialized, all trained
//   features  the source body frozen (BatchNorm statistics too) + a new head with configurable
//             hidden layers (MlpHeadClassifier)
//   finetune  source weights, new output layer, everything trained
//   partial   source weights, new output layer, the last N layer groups trained
//
// Each mode is trained with train::Trainer on the training split and measured on the
// validation split (track-disjoint) after every epoch. No model selection on that split: the
// model after the last epoch is reported. With a test split (split.test, --test-fraction) that
// final model is also scored there, once, after its training. Train accuracy/loss are of the final
// model on the training split in eval mode (no augmentation), so direct use is comparable.
// Not thread-safe.
#pragma once

#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "fedsign/data/image_set.h"
#include "fedsign/data/split.h"
#include "fedsign/models/classifier.h"
#include "fedsign/train/train_config.h"

namespace fedsign::experiments {

enum class TransferMode { kDirect, kScratch, kFeatures, kFinetune, kPartial };

TransferMode parse_transfer_mode(const std::string& name);  // direct|scratch|features|...
std::string to_string(TransferMode mode);
// "direct,scratch,features" (comma- or space-separated; "all" = every mode).
std::vector<TransferMode> parse_transfer_modes(const std::string& list);

// The source model: a weights file and what is needed to build its architecture.
struct TransferSource {
  std::filesystem::path weights;
  std::string architecture;
  int64_t num_classes = 43;
  int input_size = 32;
  std::string contrast = "none";  // the input contrast the source was trained with
  bool has_info = false;          // a model.json was found
};

// `path`: a run directory or a .pt file (model.json beside it gives the architecture, classes,
// input size and contrast). `architecture` / `num_classes` (> 0) override or replace model.json
// (needed for a torchvision export, which has none). Throws fedsign::Error if the weights or
// the architecture cannot be determined.
TransferSource resolve_transfer_source(const std::filesystem::path& path,
                                       const std::string& architecture = "",
                                       int64_t num_classes = 0);

struct TransferOptions {
  std::vector<TransferMode> modes = {TransferMode::kDirect, TransferMode::kScratch,
                                     TransferMode::kFeatures, TransferMode::kFinetune,
                                     TransferMode::kPartial};
  int64_t num_classes = 43;
  int input_size = 32;                // the (possibly upscaled) input side of the data
  std::string contrast = "none";      // contrast of the data (written to <mode>/model.json)
  std::vector<int64_t> head_hidden;   // features mode: hidden layer sizes of the new head
  double head_dropout = 0.2;          // dropout after each hidden layer
  int partial_groups = 2;             // partial mode: last N groups (incl. head) trained
  bool keep_head = false;             // finetune/partial: load the source head if it fits
  std::vector<int> label_map;         // direct: source class -> target (-1); empty: identity
  train::TrainConfig config;          // epochs, optimizer, schedule, ... (config.model unused)
};

// The model of `mode`, with source weights loaded (all but scratch) and the trainable layer
// groups set (direct: none). Deterministic given config.seed.
std::shared_ptr<models::Classifier> build_transfer_model(TransferMode mode,
                                                         const TransferSource& source,
                                                         const TransferOptions& options);

// Names of the parameters with requires_grad, sorted (what the tests pin per mode).
std::vector<std::string> trainable_parameter_names(const models::Classifier& model);

struct TransferEpoch {
  int64_t epoch = 0;
  double train_loss = 0, train_accuracy = 0;  // running, with augmentation
  double val_loss = 0, val_accuracy = 0;
  double seconds = 0;
};

struct TransferResult {
  TransferMode mode = TransferMode::kDirect;
  double val_accuracy = 0, val_loss = 0;
  // The untouched test split, read once per mode: NaN and 0 images when there is none.
  double test_accuracy = std::numeric_limits<double>::quiet_NaN();
  double test_loss = std::numeric_limits<double>::quiet_NaN();
  std::size_t test_images = 0;
  double train_accuracy = 0, train_loss = 0;
  double train_seconds = 0;
  int64_t parameters = 0, trainable_parameters = 0;
  std::vector<TransferEpoch> history;  // empty for direct
};

using TransferProgress = std::function<void(TransferMode, const TransferEpoch&)>;

// Runs every mode of `options` and writes into run_dir: transfer.md, transfer.csv,
// transfer_accuracy.png, transfer_loss.png (all modes on one chart) and <mode>/metrics.csv,
// <mode>/accuracy.png, <mode>/loss.png (+ <mode>/model.pt and model.json for the modes whose
// model is a plain registry architecture).
std::vector<TransferResult> run_transfer(const data::ImageSet& set, const data::TrackSplit& split,
                                         const TransferSource& source,
                                         const TransferOptions& options,
                                         const std::filesystem::path& run_dir,
                                         const TransferProgress& progress = {});

// The Markdown table of the results (also what transfer.md holds after its heading).
std::string transfer_table_markdown(const std::vector<TransferResult>& results);

}  // namespace fedsign::experiments
