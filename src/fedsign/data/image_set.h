// In-memory decoded images: the unit every later layer (training, federated clients) works on.
//
// Pixels are uint8 RGB, N x H x W x 3, contiguous. Subsets (train/validation split, a federated
// client's data) are index vectors into one ImageSet, never copies. No LibTorch here: the
// training layer wraps `pixels` with torch::from_blob.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fedsign::data {

inline constexpr int kNumGtsrbClasses = 43;

struct ImageSet {
  int height = 0;
  int width = 0;
  std::vector<std::uint8_t> pixels;  // size() == size() * height * width * 3, RGB
  std::vector<std::int32_t> labels;  // class id, 0..42
  std::vector<std::int64_t> tracks;  // globally unique track id (one physical sign), see reader
  std::vector<std::string> paths;    // source image path relative to the dataset root

  std::size_t size() const { return labels.size(); }
  std::size_t image_bytes() const { return static_cast<std::size_t>(height) * width * 3; }
  const std::uint8_t* image(std::size_t i) const { return pixels.data() + i * image_bytes(); }
  std::uint8_t* image(std::size_t i) { return pixels.data() + i * image_bytes(); }
};

using Indices = std::vector<std::int64_t>;

// Indices 0..n-1.
Indices all_indices(const ImageSet& set);

// Number of images per class (size kNumGtsrbClasses, or more if labels go higher).
std::vector<std::int64_t> class_counts(const ImageSet& set, const Indices& subset);

// Appends all images of `from` to `into` (same image size, or `into` empty) and returns their
// indices in `into`. `track_offset` is added to the appended track ids, to keep them distinct
// from those already in `into` (e.g. synthetic tracks beside real ones).
Indices append(ImageSet& into, const ImageSet& from, std::int64_t track_offset = 0);

// The images of `subset` whose label is (keep == true) or is not (keep == false) in `classes`.
Indices filter_classes(const ImageSet& set, const Indices& subset, const std::vector<int>& classes,
                       bool keep);

}  // namespace fedsign::data
