// Model registry: create any fedsign model by name.
//
// Names: "compact" (fedsign's compact CNN for 32-48 px signs), "keras_cnn" (the classic Keras
// FedAvg tutorial CNN, the FedAvg baseline), "mobilenet_v3_small", "mobilenet_v3_large",
// "resnet18", "resnet50". The registry is filled explicitly (no static self-registration, which
// static libraries silently drop).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fedsign/models/classifier.h"

namespace fedsign::models {

struct ModelOptions {
  int64_t num_classes = 43;
  int64_t input_size = 32;  // square input side; some models size their head from it
  double dropout = -1.0;    // < 0: the model's default
};

std::shared_ptr<Classifier> create_model(const std::string& name, const ModelOptions& options = {});
std::vector<std::string> model_names();
std::string describe_model(const std::string& name);  // one line for --help and `fedsign models`

int64_t count_parameters(const torch::nn::Module& model, bool trainable_only = false);

}  // namespace fedsign::models
