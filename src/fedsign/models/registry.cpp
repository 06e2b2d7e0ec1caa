// The model table: name -> factory and one-line description. Filled explicitly (no static
// self-registration, which static libraries silently drop).
#include "fedsign/models/registry.h"

#include <fmt/format.h>

#include <functional>

#include "fedsign/core/check.h"
#include "fedsign/models/compact_cnn.h"
#include "fedsign/models/compact_stn.h"
#include "fedsign/models/keras_cnn.h"
#include "fedsign/models/mobilenet_v3.h"
#include "fedsign/models/resnet.h"

namespace fedsign::models {
namespace {

struct ModelEntry {
  const char* name;
  const char* description;
  std::function<std::shared_ptr<Classifier>(const ModelOptions&)> create;
};

const std::vector<ModelEntry>& model_table() {
  static const std::vector<ModelEntry> table{
      {"compact",
       "fedsign's compact CNN for 32-48 px signs: 4 conv stages 32/64/128/256, GAP, dropout "
       "0.3 (0.59M params, 43M MACs at 32 px)",
       [](const ModelOptions& o) { return std::make_shared<CompactCnnImpl>(o); }},
      {"compact_stn",
       "compact behind a spatial transformer: a small localization net predicts an affine "
       "transform the input is resampled through (0.62M params)",
       [](const ModelOptions& o) { return std::make_shared<CompactStnImpl>(o); }},
      {"keras_cnn",
       "the classic Keras FedAvg tutorial CNN (2x conv32 + 2x dense128, dropout 0.5), the "
       "FedAvg baseline (0.18M params at 32 px)",
       [](const ModelOptions& o) { return std::make_shared<KerasCnnImpl>(o); }},
      {"mobilenet_v3_small",
       "torchvision MobileNetV3-Small (1.56M params with 43 classes); loads torchvision weights",
       [](const ModelOptions& o) {
         return std::make_shared<MobileNetV3Impl>(MobileNetV3Variant::small, o);
       }},
      {"mobilenet_v3_large",
       "torchvision MobileNetV3-Large (4.26M params with 43 classes); loads torchvision weights",
       [](const ModelOptions& o) {
         return std::make_shared<MobileNetV3Impl>(MobileNetV3Variant::large, o);
       }},
      {"resnet18",
       "torchvision ResNet-18 (11.2M params with 43 classes); loads torchvision weights",
       [](const ModelOptions& o) {
         return std::make_shared<ResNetImpl>(ResNetDepth::resnet18, o);
       }},
      {"resnet50",
       "torchvision ResNet-50 (23.6M params with 43 classes); loads torchvision weights",
       [](const ModelOptions& o) {
         return std::make_shared<ResNetImpl>(ResNetDepth::resnet50, o);
       }},
  };
  return table;
}

const ModelEntry& find_model(const std::string& name) {
  for (const auto& entry : model_table()) {
    if (name == entry.name) return entry;
  }
  FEDSIGN_FAIL("unknown model '{}' (valid: {})", name, fmt::join(model_names(), ", "));
}

}  // namespace

std::shared_ptr<Classifier> create_model(const std::string& name, const ModelOptions& options) {
  return find_model(name).create(options);
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& entry : model_table()) names.emplace_back(entry.name);
  return names;
}

std::string describe_model(const std::string& name) { return find_model(name).description; }

}  // namespace fedsign::models
