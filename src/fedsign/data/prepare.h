// The last step of turning a sign crop into model input, shared by the dataset loader and by
// code that classifies in-memory crops (the detector): resize to size x size, then luminance
// contrast normalization. OpenCV types here; the rest of the data layer's headers stay free of it.
#pragma once

#include <opencv2/core/mat.hpp>

#include <cstdint>

#include "fedsign/data/image_loader.h"

namespace fedsign::data {

// `rgb`: an 8-bit RGB crop. Writes size * size * 3 RGB bytes to `out`.
void prepare_crop(const cv::Mat& rgb, int size, Contrast contrast, std::uint8_t* out);

}  // namespace fedsign::data
