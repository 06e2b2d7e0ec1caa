#include "fedsign/train/model_bundle.h"

#include <fstream>
#include <nlohmann/json.hpp>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/models/registry.h"
#include "fedsign/models/weights.h"

namespace fedsign::train {
namespace fs = std::filesystem;

void save_model_info(const fs::path& json_file, const ModelInfo& info) {
  nlohmann::json j = {{"architecture", info.architecture},
                      {"num_classes", info.num_classes},
                      {"input_size", info.input_size},
                      {"contrast", info.contrast}};
  write_text_atomically(json_file, j.dump(2) + "\n");
}

ModelInfo read_model_info(const fs::path& json_file) {
  std::ifstream in(json_file);
  FEDSIGN_CHECK(in.good(), "{}: cannot read the model description", json_file.string());
  ModelInfo info;
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    info.architecture = j.at("architecture");
    info.num_classes = j.at("num_classes");
    info.input_size = j.at("input_size");
    info.contrast = j.value("contrast", "none");
  } catch (const nlohmann::json::exception& e) {
    FEDSIGN_FAIL("{}: invalid model description ({})", json_file.string(), e.what());
  }
  return info;
}

ModelFiles locate_model_files(const fs::path& path) {
  if (fs::is_directory(path)) return {path / "model.pt", path / "model.json"};
  ModelFiles files{path, path.parent_path() / (path.stem().string() + ".json")};
  if (!fs::exists(files.info)) files.info = path.parent_path() / "model.json";
  return files;
}

LoadedModel load_model_bundle(const fs::path& path) {
  LoadedModel loaded;
  const ModelFiles files = locate_model_files(path);
  loaded.weights_file = files.weights;
  FEDSIGN_CHECK(fs::exists(loaded.weights_file), "{}: model weights not found",
                loaded.weights_file.string());
  FEDSIGN_CHECK(fs::exists(files.info), "{}: model description not found (expected beside {})",
                files.info.string(), loaded.weights_file.string());
  loaded.info = read_model_info(files.info);
  models::ModelOptions options;
  options.num_classes = loaded.info.num_classes;
  options.input_size = loaded.info.input_size;
  loaded.model = models::create_model(loaded.info.architecture, options);
  models::load_weights(*loaded.model, loaded.weights_file);
  loaded.model->eval();
  return loaded;
}

}  // namespace fedsign::train
