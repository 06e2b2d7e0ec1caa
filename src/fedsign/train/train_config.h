// Everything that defines a training run (centralized or a federated client's local training).
// Plain data, no LibTorch: the CLI fills it from flags/config files and it is saved as JSON.
#pragma once

#include <cstdint>
#include <string>

#include "fedsign/train/schedule.h"

namespace fedsign::train {

struct AugmentConfig {
  bool enabled = true;
  double rotate_degrees = 12.0;  // in-plane rotation, uniform +-
  double scale = 0.12;           // zoom factor in [1-scale, 1+scale]
  double translate = 0.08;       // shift as a fraction of the image side
  double shear_degrees = 6.0;
  double perspective = 0.06;     // strength of the random projective distortion
  double brightness = 0.35;      // multiplicative factors in [1-x, 1+x]
  double contrast = 0.35;
  double saturation = 0.35;
  double blur_probability = 0.15;  // 3x3 Gaussian blur of random strength
  // No horizontal flips, by design: they change what many signs mean (turn left/right...).
};

struct OptimizerConfig {
  std::string name = "adamw";  // adam | adamw | sgd
  double lr = 2e-3;
  double weight_decay = 5e-4;
  double momentum = 0.9;  // sgd
  bool nesterov = true;   // sgd
  double beta1 = 0.9, beta2 = 0.999;
};

struct TrainConfig {
  std::string model = "compact";
  int64_t epochs = 30;
  int64_t batch_size = 128;
  int64_t eval_batch_size = 128;  // smaller batches keep activations in cache: 10% faster than 512 (README)
  OptimizerConfig optimizer;
  ScheduleConfig schedule;       // base_lr is taken from optimizer.lr
  double warmup_epochs = 1.0;    // converted to steps
  double label_smoothing = 0.1;
  AugmentConfig augment;
  std::string precision = "auto";       // auto | fp32 | bf16
  std::string memory_format = "auto";   // auto | contiguous | channels-last
  double dropout = -1.0;                // < 0: model default
  uint64_t seed = 42;
  int threads = 0;                      // 0: all cores
  // Batch composition: "shuffle" (batch_size images of a shuffled pass) or "balanced"
  // (classes_per_batch x images_per_class images of distinct classes per batch; batch_size is
  // then unused). See balanced_sampler.h.
  std::string sampler = "shuffle";
  int64_t classes_per_batch = 16;       // P
  int64_t images_per_class = 8;         // K
  // > 0: adds contrastive_weight x supervised-contrastive loss on the model's embedding to the
  // cross-entropy (see contrastive_loss.h). 0 keeps plain cross-entropy.
  double contrastive_weight = 0.0;
  double contrastive_temperature = 0.1;
};

}  // namespace fedsign::train
