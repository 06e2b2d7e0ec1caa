// Turning ImageSet rows into model input tensors.
#pragma once

#include <torch/types.h>

#include "fedsign/data/image_set.h"

namespace fedsign::train {

// uint8 images [begin, end) of `indices` as float N x 3 x H x W in [0, 1].
torch::Tensor gather_images(const data::ImageSet& set, const data::Indices& indices,
                            std::size_t begin, std::size_t end);
torch::Tensor gather_labels(const data::ImageSet& set, const data::Indices& indices,
                            std::size_t begin, std::size_t end);

// The model input for images [begin, end) of `indices` in one pass: uint8 HWC rows straight to
// normalized float N x 3 x H x W (the values of normalize(gather_images(...))), laid out
// channels-last (NHWC in memory, as the rows are) or contiguous. Evaluation and prediction use
// it: no augmentation comes between, and it saves three full-size temporaries per batch.
torch::Tensor gather_inputs(const data::ImageSet& set, const data::Indices& indices,
                            std::size_t begin, std::size_t end, bool channels_last);

// Per-channel standardization with ImageNet statistics, the convention of torchvision weights,
// so that pretrained and from-scratch models see the same input.
torch::Tensor normalize(const torch::Tensor& images01);

// `count` HxWx3 uint8 RGB images laid out back to back (e.g. decoded for predict or cut out by
// the detector) as a normalized count x 3 x H x W float tensor.
torch::Tensor image_to_input(const std::uint8_t* rgb, int height, int width, int64_t count = 1);

}  // namespace fedsign::train
