// Exponential moving average of a model's weights over the optimizer steps of a centralized run
// (Polyak averaging, as timm's ModelEma keeps it): after every step
//   average = d_t * average + (1 - d_t) * weights,  d_t = min(decay, (1 + t) / (10 + t)),
// where t counts the updates so far, so the first steps are not held back by the initial
// weights. BatchNorm running statistics are averaged like parameters; integer buffers (batch
// counters) are copied. The average is a second instance of the model, evaluated and saved like
// any model. See `fedsign train --weight-ema`.
#pragma once

#include <cstdint>
#include <memory>

#include "fedsign/models/classifier.h"

namespace torch::serialize {
class OutputArchive;
class InputArchive;
}  // namespace torch::serialize

namespace fedsign::train {

class WeightEma {
 public:
  // `average` has the architecture of `model` (same parameters and buffers in the same order);
  // it starts as a copy of `model`. Throws if decay is outside [0, 1).
  WeightEma(std::shared_ptr<models::Classifier> average, const models::Classifier& model,
            double decay);

  // Folds the model's current weights into the average (call after each optimizer step).
  void update(const models::Classifier& model);

  // The decay the next update will use.
  double next_decay() const;
  int64_t updates() const { return updates_; }
  models::Classifier& model() { return *average_; }
  const models::Classifier& model() const { return *average_; }

  // The average and the update count, so a resumed run continues the same average.
  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

 private:
  std::shared_ptr<models::Classifier> average_;
  double decay_;
  int64_t updates_ = 0;
};

}  // namespace fedsign::train
