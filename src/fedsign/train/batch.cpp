#include "fedsign/train/batch.h"

#include <cstring>

namespace fedsign::train {
namespace {

// ImageNet statistics (see normalize() in batch.h).
constexpr float kMean[3] = {0.485f, 0.456f, 0.406f};
constexpr float kStd[3] = {0.229f, 0.224f, 0.225f};

}  // namespace

torch::Tensor gather_images(const data::ImageSet& set, const data::Indices& indices,
                            std::size_t begin, std::size_t end) {
  const auto n = static_cast<int64_t>(end - begin);
  auto out = torch::empty({n, set.height, set.width, 3}, torch::kUInt8);
  auto* dst = out.data_ptr<std::uint8_t>();
  const std::size_t bytes = set.image_bytes();
  for (std::size_t i = begin; i < end; ++i) {
    std::memcpy(dst + (i - begin) * bytes, set.image(indices[i]), bytes);
  }
  return out.permute({0, 3, 1, 2}).to(torch::kFloat32).div_(255.0);
}

torch::Tensor gather_labels(const data::ImageSet& set, const data::Indices& indices,
                            std::size_t begin, std::size_t end) {
  auto out = torch::empty({static_cast<int64_t>(end - begin)}, torch::kInt64);
  auto* dst = out.data_ptr<int64_t>();
  for (std::size_t i = begin; i < end; ++i) dst[i - begin] = set.labels[indices[i]];
  return out;
}

torch::Tensor gather_inputs(const data::ImageSet& set, const data::Indices& indices,
                            std::size_t begin, std::size_t end, bool channels_last) {
  const auto n = static_cast<int64_t>(end - begin);
  const auto format = channels_last ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
  auto out = torch::empty({n, 3, set.height, set.width},
                          torch::TensorOptions(torch::kFloat32).memory_format(format));
  // (x / 255 - mean) / std as one multiply-add per value.
  float scale[3], offset[3];
  for (int c = 0; c < 3; ++c) {
    scale[c] = 1.0f / (255.0f * kStd[c]);
    offset[c] = -kMean[c] / kStd[c];
  }
  const std::size_t pixels = static_cast<std::size_t>(set.height) * set.width;
  float* dst = out.data_ptr<float>();
  for (std::size_t i = begin; i < end; ++i) {
    const std::uint8_t* src = set.image(indices[i]);
    float* image = dst + (i - begin) * pixels * 3;
    if (channels_last) {
      for (std::size_t p = 0; p < pixels; ++p) {
        for (int c = 0; c < 3; ++c) image[p * 3 + c] = src[p * 3 + c] * scale[c] + offset[c];
      }
    } else {
      for (int c = 0; c < 3; ++c) {
        float* plane = image + c * pixels;
        for (std::size_t p = 0; p < pixels; ++p) plane[p] = src[p * 3 + c] * scale[c] + offset[c];
      }
    }
  }
  return out;
}

torch::Tensor normalize(const torch::Tensor& images01) {
  static const auto mean = torch::tensor({kMean[0], kMean[1], kMean[2]}).view({1, 3, 1, 1});
  static const auto std = torch::tensor({kStd[0], kStd[1], kStd[2]}).view({1, 3, 1, 1});
  return (images01 - mean) / std;
}

torch::Tensor image_to_input(const std::uint8_t* rgb, int height, int width, int64_t count) {
  auto hwc =
      torch::from_blob(const_cast<std::uint8_t*>(rgb), {count, height, width, 3}, torch::kUInt8);
  return normalize(hwc.permute({0, 3, 1, 2}).to(torch::kFloat32).div(255.0));
}

}  // namespace fedsign::train
