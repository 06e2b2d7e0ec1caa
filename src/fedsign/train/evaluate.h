// Batched inference over an ImageSet subset: predictions, confidences and mean loss.
#pragma once

#include <vector>

#include "fedsign/data/image_set.h"
#include "fedsign/models/classifier.h"
#include "fedsign/train/precision.h"

namespace fedsign::train {

struct Predictions {
  std::vector<int> truth;
  std::vector<int> predicted;
  std::vector<float> confidence;  // softmax probability of the predicted class
  double mean_loss = 0.0;         // cross-entropy (no label smoothing)
  double accuracy() const;
};

// Runs `model` in eval mode (restores its previous mode) over `indices`.
Predictions predict_subset(models::Classifier& model, const data::ImageSet& set,
                           const data::Indices& indices, const ComputeMode& mode,
                           int64_t batch_size = 512);

// Moves parameters and buffers of 4-D weights to channels-last (or back to contiguous).
void apply_memory_format(models::Classifier& model, bool channels_last);

}  // namespace fedsign::train
