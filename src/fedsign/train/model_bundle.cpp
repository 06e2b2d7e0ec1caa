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

LoadedModel load_model_bundle(const fs::path& path) {
  LoadedModel loaded;
  fs::path info_file;
  if (fs::is_directory(path)) {
    loaded.weights_file = path / "model.pt";
    info_file = path / "model.json";
  } else {
    loaded.weights_file = path;
    info_file = path.parent_path() / (path.stem().string() + ".json");
    if (!fs::exists(info_file)) info_file = path.parent_path() / "model.json";
  }
  FEDSIGN_CHECK(fs::exists(loaded.weights_file), "{}: model weights not found",
                loaded.weights_file.string());
  FEDSIGN_CHECK(fs::exists(info_file), "{}: model description not found (expected beside {})",
                info_file.string(), loaded.weights_file.string());
  std::ifstream in(info_file);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
    loaded.info.architecture = j.at("architecture");
    loaded.info.num_classes = j.at("num_classes");
    loaded.info.input_size = j.at("input_size");
    loaded.info.contrast = j.value("contrast", "none");
  } catch (const nlohmann::json::exception& e) {
    FEDSIGN_FAIL("{}: invalid model description ({})", info_file.string(), e.what());
  }
  models::ModelOptions options;
  options.num_classes = loaded.info.num_classes;
  options.input_size = loaded.info.input_size;
  loaded.model = models::create_model(loaded.info.architecture, options);
  models::load_weights(*loaded.model, loaded.weights_file);
  loaded.model->eval();
  return loaded;
}

}  // namespace fedsign::train
