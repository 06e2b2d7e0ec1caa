// Batched inference over an ImageSet subset: predictions, confidences and mean loss.
#pragma once

#include <vector>

#include "fedsign/data/image_set.h"
#include "fedsign/models/classifier.h"
#include "fedsign/models/int8_compact.h"
#include "fedsign/train/precision.h"

namespace fedsign::train {

struct Predictions {
  std::vector<int> truth;
  std::vector<int> predicted;
  std::vector<float> confidence;  // softmax probability of the predicted class
  double mean_loss = 0.0;         // cross-entropy (no label smoothing)
  double accuracy() const;
};

// Test-time augmentation: at most this many views of each image (see tta_view).
inline constexpr int kMaxTtaViews = 7;

// View `v` of a normalized N x 3 x H x W batch, for test-time augmentation: 0 is the batch
// itself, then a 10% zoom in and out, then shifts by 1/16 of the side in the four directions
// (bilinear resampling, border pixels repeated). Small geometric changes only, within what
// training augments: no flips, which change what many signs mean.
torch::Tensor tta_view(const torch::Tensor& x, int v);

// Runs `model` in eval mode (restores its previous mode) over `indices`. With tta_views > 1 each
// image's class probabilities are the mean over views 0..tta_views-1 (its loss and confidence
// are those of the mean).
Predictions predict_subset(models::Classifier& model, const data::ImageSet& set,
                           const data::Indices& indices, const ComputeMode& mode,
                           int64_t batch_size = 512, int tta_views = 1);

// The same with an int8 model (models/int8_compact.h).
Predictions predict_subset(const models::Int8Compact& model, const data::ImageSet& set,
                           const data::Indices& indices, int64_t batch_size = 512,
                           int tta_views = 1);

// Moves parameters and buffers of 4-D weights to channels-last (or back to contiguous).
void apply_memory_format(models::Classifier& model, bool channels_last);

}  // namespace fedsign::train
