#include "fedsign/train/batch.h"

#include <cstring>

namespace fedsign::train {

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

torch::Tensor normalize(const torch::Tensor& images01) {
  static const auto mean = torch::tensor({0.485f, 0.456f, 0.406f}).view({1, 3, 1, 1});
  static const auto std = torch::tensor({0.229f, 0.224f, 0.225f}).view({1, 3, 1, 1});
  return (images01 - mean) / std;
}

torch::Tensor image_to_input(const std::uint8_t* rgb, int height, int width, int64_t count) {
  auto hwc =
      torch::from_blob(const_cast<std::uint8_t*>(rgb), {count, height, width, 3}, torch::kUInt8);
  return normalize(hwc.permute({0, 3, 1, 2}).to(torch::kFloat32).div(255.0));
}

}  // namespace fedsign::train
