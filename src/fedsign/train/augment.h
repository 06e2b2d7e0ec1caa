// On-the-fly augmentation of a whole batch with tensor ops (one grid_sample for all geometric
// transforms), so augmentation costs a small fraction of a training step and never needs a
// worker pool. Deterministic for a given generator state.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/types.h>

#include "fedsign/train/train_config.h"

namespace fedsign::train {

// images: N x 3 x H x W float in [0, 1]. Returns a new tensor of the same shape, in [0, 1].
// Per sample: random rotation, scale, translation, shear and perspective (one projective warp,
// border padding), brightness/contrast/saturation jitter, and occasional mild blur.
torch::Tensor augment_batch(const torch::Tensor& images, const AugmentConfig& config,
                            at::Generator& generator);

// Per-sample 3x3 projective matrices (N x 3 x 3) mapping output to input coordinates in
// normalized [-1, 1] space. Exposed for tests: identity when all strengths are zero.
torch::Tensor random_warps(int64_t n, const AugmentConfig& config, at::Generator& generator);

}  // namespace fedsign::train
