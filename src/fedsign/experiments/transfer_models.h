// Model wrappers for the transfer-learning modes (see transfer.h): a source model's body with a
// new multi-layer head (feature extraction), and a source model whose outputs are mapped onto
// the target classes (direct use). Both are Classifiers, so the trainer, evaluation, Grad-CAM
// and weights files work on them unchanged. Not thread-safe: one model per thread.
#pragma once

#include <torch/nn/modules/container/sequential.h>

#include <memory>
#include <string>
#include <vector>

#include "fedsign/models/classifier.h"

namespace fedsign::experiments {

// `body` (any Classifier; its own head is kept but unused) + a new head on its embedding:
// [Linear(hidden_i) - ReLU - Dropout] per hidden size, then Linear(num_classes).
// Parameters: "body.<source name>" and "head.<k>.weight|bias". Layer groups: the body's groups
// without its "head", then "head"; the body's unused head parameters are in the group
// "source_head", which is not in layer_groups() and so never trained. With freeze_body, the
// body stays in eval mode when the wrapper is put in training mode (BatchNorm statistics and
// dropout of a frozen body do not change: true feature extraction).
class MlpHeadClassifier : public models::Classifier {
 public:
  MlpHeadClassifier(std::shared_ptr<models::Classifier> body, std::vector<int64_t> hidden,
                    int64_t num_classes, double dropout, bool freeze_body);

  torch::Tensor embed(const torch::Tensor& x) override { return body_->embed(x); }
  torch::Tensor classify(const torch::Tensor& embedding) override;
  torch::Tensor feature_map(const torch::Tensor& x) override { return body_->feature_map(x); }
  torch::Tensor pool_features(const torch::Tensor& map) override {
    return body_->pool_features(map);
  }
  void reset_head(int64_t num_classes) override;
  std::vector<std::string> layer_groups() const override;
  std::string group_of(const std::string& parameter_name) const override;
  int64_t num_classes() const override { return num_classes_; }
  int64_t embedding_dim() const override { return body_->embedding_dim(); }
  void train(bool on = true) override;

  models::Classifier& body() { return *body_; }

 private:
  torch::nn::Sequential make_head(int64_t num_classes) const;

  std::shared_ptr<models::Classifier> body_;
  std::vector<int64_t> hidden_;
  double dropout_;
  bool freeze_body_;
  int64_t num_classes_;
  torch::nn::Sequential head_{nullptr};
};

// A source model used as is on the target classes: target logit t = the source logit of the
// source class mapped to t (the maximum if several are), or -1e4 if none is. map[s] = target
// class of source class s, -1 for none. Group "source" (everything); nothing to train.
class LabelMappedClassifier : public models::Classifier {
 public:
  LabelMappedClassifier(std::shared_ptr<models::Classifier> source, std::vector<int> map,
                        int64_t num_classes);

  torch::Tensor embed(const torch::Tensor& x) override { return source_->embed(x); }
  torch::Tensor classify(const torch::Tensor& embedding) override;
  torch::Tensor feature_map(const torch::Tensor& x) override { return source_->feature_map(x); }
  torch::Tensor pool_features(const torch::Tensor& map) override {
    return source_->pool_features(map);
  }
  void reset_head(int64_t num_classes) override;
  std::vector<std::string> layer_groups() const override { return {"source"}; }
  std::string group_of(const std::string&) const override { return "source"; }
  int64_t num_classes() const override { return num_classes_; }
  int64_t embedding_dim() const override { return source_->embedding_dim(); }

 private:
  std::shared_ptr<models::Classifier> source_;
  std::vector<int> map_;
  int64_t num_classes_;
};

// Identity map for the first min(source, target) classes, -1 for the rest.
std::vector<int> identity_label_map(int64_t source_classes, int64_t target_classes);

// A label-map file: lines "source,target" (class ids; '#' comments and a non-numeric header
// line are skipped). Classes not listed map to -1. Throws fedsign::Error naming the line.
std::vector<int> read_label_map(const std::string& file, int64_t source_classes,
                                int64_t target_classes);

}  // namespace fedsign::experiments
