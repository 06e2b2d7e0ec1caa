#include "fedsign/train/config_json.h"

#include <nlohmann/json.hpp>

namespace fedsign::train {

nlohmann::json to_json(const TrainConfig& c) {
  const auto& a = c.augment;
  const auto& s = c.schedule;
  return {
      {"model", c.model},
      {"epochs", c.epochs},
      {"batch_size", c.batch_size},
      {"optimizer", {{"name", c.optimizer.name}, {"lr", c.optimizer.lr},
                     {"weight_decay", c.optimizer.weight_decay}, {"momentum", c.optimizer.momentum},
                     {"nesterov", c.optimizer.nesterov}}},
      {"schedule", {{"kind", to_string(s.kind)}, {"min_lr", s.min_lr},
                    {"restart_period", s.restart_period}, {"restart_mult", s.restart_mult},
                    {"step_size", s.step_size}, {"gamma", s.gamma}, {"pct_start", s.pct_start}}},
      {"warmup_epochs", c.warmup_epochs},
      {"label_smoothing", c.label_smoothing},
      {"augment", {{"enabled", a.enabled}, {"rotate_degrees", a.rotate_degrees},
                   {"scale", a.scale}, {"translate", a.translate},
                   {"shear_degrees", a.shear_degrees}, {"perspective", a.perspective},
                   {"brightness", a.brightness}, {"contrast", a.contrast},
                   {"saturation", a.saturation}, {"blur_probability", a.blur_probability}}},
      {"precision", c.precision},
      {"memory_format", c.memory_format},
      {"dropout", c.dropout},
      {"seed", c.seed},
      {"threads", c.threads},
  };
}

}  // namespace fedsign::train
