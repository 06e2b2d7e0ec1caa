// A trained model on disk: weights (model.pt) plus what is needed to use them (model.json:
// architecture, classes, input size, contrast normalization). `evaluate` and `predict` accept
// the run directory or the .pt file; model.json is looked up beside it.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "fedsign/models/classifier.h"

namespace fedsign::train {

struct ModelInfo {
  std::string architecture = "compact";
  int64_t num_classes = 43;
  int input_size = 32;
  std::string contrast = "none";  // data::Contrast name applied to inputs
};

void save_model_info(const std::filesystem::path& json_file, const ModelInfo& info);
// Throws fedsign::Error naming the file if it is not a model description.
ModelInfo read_model_info(const std::filesystem::path& json_file);

// Where a model's files are: for a run directory its model.pt and model.json; for a weights
// file, <stem>.json beside it, else model.json beside it. Nothing is checked for existence.
struct ModelFiles {
  std::filesystem::path weights;
  std::filesystem::path info;
};
ModelFiles locate_model_files(const std::filesystem::path& path);

struct LoadedModel {
  ModelInfo info;
  std::shared_ptr<models::Classifier> model;
  std::filesystem::path weights_file;
};

// `path`: a run directory (uses model.pt + model.json) or a weights file (model.json beside it,
// or <stem>.json). Throws fedsign::Error naming what is missing.
LoadedModel load_model_bundle(const std::filesystem::path& path);

}  // namespace fedsign::train
