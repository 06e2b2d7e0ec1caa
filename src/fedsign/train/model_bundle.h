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

struct LoadedModel {
  ModelInfo info;
  std::shared_ptr<models::Classifier> model;
  std::filesystem::path weights_file;
};

// `path`: a run directory (uses model.pt + model.json) or a weights file (model.json beside it,
// or <stem>.json). Throws fedsign::Error naming what is missing.
LoadedModel load_model_bundle(const std::filesystem::path& path);

}  // namespace fedsign::train
