#include "fedsign/train/weight_ema.h"

#include <torch/serialize/archive.h>

#include <algorithm>

#include "fedsign/core/check.h"
#include "fedsign/models/layers.h"
#include "fedsign/models/weights.h"

namespace fedsign::train {

WeightEma::WeightEma(std::shared_ptr<models::Classifier> average, const models::Classifier& model,
                     double decay)
    : average_(std::move(average)), decay_(decay) {
  FEDSIGN_CHECK(decay >= 0.0 && decay < 1.0, "weight EMA decay {} is outside [0, 1)", decay);
  const auto from = models::state_tensors(model);
  const auto to = models::state_tensors(*average_);
  FEDSIGN_CHECK(from.size() == to.size(),
                "weight EMA: the average has {} tensors, the model {}", to.size(), from.size());
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < from.size(); ++i) {
    FEDSIGN_CHECK(from[i].first == to[i].first && from[i].second.sizes() == to[i].second.sizes(),
                  "weight EMA: the average's tensor '{}' {} does not match the model's '{}' {}",
                  to[i].first, models::shape_string(to[i].second.sizes()), from[i].first,
                  models::shape_string(from[i].second.sizes()));
    to[i].second.copy_(from[i].second);
  }
  average_->eval();  // the average is only ever evaluated
}

double WeightEma::next_decay() const {
  const double t = static_cast<double>(updates_);
  return std::min(decay_, (1.0 + t) / (10.0 + t));
}

void WeightEma::update(const models::Classifier& model) {
  const double d = next_decay();
  const auto from = models::state_tensors(model);
  const auto to = models::state_tensors(*average_);
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < from.size(); ++i) {
    const torch::Tensor& average = to[i].second;
    if (average.is_floating_point()) {
      average.mul_(d).add_(from[i].second.detach(), 1.0 - d);
    } else {
      average.copy_(from[i].second);
    }
  }
  ++updates_;
}

void WeightEma::save(torch::serialize::OutputArchive& archive) const {
  torch::serialize::OutputArchive model_archive;
  average_->save(model_archive);
  archive.write("model", model_archive);
  archive.write("updates", c10::IValue(updates_));
  archive.write("decay", c10::IValue(decay_));
}

void WeightEma::load(torch::serialize::InputArchive& archive) {
  torch::serialize::InputArchive model_archive;
  archive.read("model", model_archive);
  c10::IValue updates, decay;
  archive.read("updates", updates);
  archive.read("decay", decay);
  FEDSIGN_CHECK(decay.toDouble() == decay_,
                "the checkpoint's weight EMA has decay {}, this run asks for {}", decay.toDouble(),
                decay_);
  average_->load(model_archive);
  updates_ = updates.toInt();
}

}  // namespace fedsign::train
