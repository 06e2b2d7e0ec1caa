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

// Per-channel standardization with ImageNet statistics, the convention of torchvision weights,
// so that pretrained and from-scratch models see the same input.
torch::Tensor normalize(const torch::Tensor& images01);

// An HxWx3 uint8 RGB image (e.g. one decoded for predict) as a normalized 1x3xHxW tensor.
torch::Tensor image_to_input(const std::uint8_t* rgb, int height, int width);

}  // namespace fedsign::train
