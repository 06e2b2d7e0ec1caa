#include "fedsign/experiments/transfer_models.h"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/linear.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "fedsign/core/check.h"
#include "fedsign/models/layers.h"

namespace fedsign::experiments {

MlpHeadClassifier::MlpHeadClassifier(std::shared_ptr<models::Classifier> body,
                                     std::vector<int64_t> hidden, int64_t num_classes,
                                     double dropout, bool freeze_body)
    : body_(std::move(body)),
      hidden_(std::move(hidden)),
      dropout_(dropout),
      freeze_body_(freeze_body),
      num_classes_(num_classes) {
  FEDSIGN_CHECK(body_ != nullptr, "MlpHeadClassifier: no body model");
  FEDSIGN_CHECK(num_classes >= 1, "MlpHeadClassifier: num_classes must be >= 1, got {}",
                num_classes);
  for (int64_t h : hidden_) {
    FEDSIGN_CHECK(h >= 1, "head hidden layer sizes must be >= 1, got {}", h);
  }
  register_module("body", body_);
  head_ = register_module("head", make_head(num_classes));
  if (freeze_body_) train(is_training());
}

torch::nn::Sequential MlpHeadClassifier::make_head(int64_t num_classes) const {
  torch::nn::Sequential head;
  int64_t in = body_->embedding_dim();
  for (int64_t h : hidden_) {
    head->push_back(torch::nn::Linear(in, h));
    head->push_back(torch::nn::ReLU());
    head->push_back(models::Dropout(dropout_));
    in = h;
  }
  head->push_back(torch::nn::Linear(in, num_classes));
  return head;
}

torch::Tensor MlpHeadClassifier::classify(const torch::Tensor& embedding) {
  return head_->forward(embedding);
}

void MlpHeadClassifier::reset_head(int64_t num_classes) {
  FEDSIGN_CHECK(num_classes >= 1, "MlpHeadClassifier: num_classes must be >= 1, got {}",
                num_classes);
  auto fresh = make_head(num_classes);
  replace_module("head", fresh);
  head_ = fresh;
  num_classes_ = num_classes;
}

std::vector<std::string> MlpHeadClassifier::layer_groups() const {
  std::vector<std::string> groups;
  for (const auto& g : body_->layer_groups()) {
    if (g != "head") groups.push_back(g);
  }
  groups.push_back("head");
  return groups;
}

std::string MlpHeadClassifier::group_of(const std::string& parameter_name) const {
  if (parameter_name.starts_with("head.")) return "head";
  FEDSIGN_CHECK(parameter_name.starts_with("body."),
                "MlpHeadClassifier: no layer group for parameter '{}'", parameter_name);
  const std::string group = body_->group_of(parameter_name.substr(5));
  return group == "head" ? "source_head" : group;
}

void MlpHeadClassifier::train(bool on) {
  models::Classifier::train(on);
  if (freeze_body_) body_->eval();
}

LabelMappedClassifier::LabelMappedClassifier(std::shared_ptr<models::Classifier> source,
                                             std::vector<int> map, int64_t num_classes)
    : source_(std::move(source)), map_(std::move(map)), num_classes_(num_classes) {
  FEDSIGN_CHECK(source_ != nullptr, "LabelMappedClassifier: no source model");
  FEDSIGN_CHECK(static_cast<int64_t>(map_.size()) == source_->num_classes(),
                "label map has {} entries but the source model has {} classes", map_.size(),
                source_->num_classes());
  for (int t : map_) {
    FEDSIGN_CHECK(t >= -1 && t < num_classes, "label map target {} outside 0..{}", t,
                  num_classes - 1);
  }
  register_module("source", source_);
}

torch::Tensor LabelMappedClassifier::classify(const torch::Tensor& embedding) {
  const torch::Tensor logits = source_->classify(embedding);
  const bool identity = num_classes_ == static_cast<int64_t>(map_.size()) &&
                        [&] {
                          for (std::size_t i = 0; i < map_.size(); ++i) {
                            if (map_[i] != static_cast<int>(i)) return false;
                          }
                          return true;
                        }();
  if (identity) return logits;
  torch::Tensor out = torch::full({logits.size(0), num_classes_}, -1e4, logits.options());
  for (std::size_t s = 0; s < map_.size(); ++s) {
    if (map_[s] < 0) continue;
    auto column = out.select(1, map_[s]);
    column.copy_(torch::maximum(column, logits.select(1, static_cast<int64_t>(s))));
  }
  return out;
}

void LabelMappedClassifier::reset_head(int64_t) {
  FEDSIGN_FAIL("LabelMappedClassifier: the head of a directly used model cannot be replaced");
}

std::vector<int> identity_label_map(int64_t source_classes, int64_t target_classes) {
  std::vector<int> map(static_cast<std::size_t>(source_classes), -1);
  for (int64_t s = 0; s < std::min(source_classes, target_classes); ++s) {
    map[static_cast<std::size_t>(s)] = static_cast<int>(s);
  }
  return map;
}

std::vector<int> read_label_map(const std::string& file, int64_t source_classes,
                                int64_t target_classes) {
  std::ifstream in(file);
  FEDSIGN_CHECK(in.good(), "{}: cannot open label map", file);
  std::vector<int> map(static_cast<std::size_t>(source_classes), -1);
  int line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    std::replace(line.begin(), line.end(), ',', ' ');
    std::istringstream fields(line);
    long long s = 0, t = 0;
    if (!(fields >> s >> t)) {
      FEDSIGN_CHECK(line_number == 1, "{}:{}: expected 'source,target'", file, line_number);
      continue;  // header
    }
    FEDSIGN_CHECK(s >= 0 && s < source_classes, "{}:{}: source class {} outside 0..{}", file,
                  line_number, s, source_classes - 1);
    FEDSIGN_CHECK(t >= -1 && t < target_classes, "{}:{}: target class {} outside 0..{}", file,
                  line_number, t, target_classes - 1);
    map[static_cast<std::size_t>(s)] = static_cast<int>(t);
  }
  return map;
}

}  // namespace fedsign::experiments
