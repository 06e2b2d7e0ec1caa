#include "fedsign/data/image_set.h"

#include <algorithm>
#include <numeric>

#include "fedsign/core/check.h"

namespace fedsign::data {

Indices all_indices(const ImageSet& set) {
  Indices indices(set.size());
  std::iota(indices.begin(), indices.end(), 0);
  return indices;
}

std::vector<std::int64_t> class_counts(const ImageSet& set, const Indices& subset) {
  std::vector<std::int64_t> counts(kNumGtsrbClasses, 0);
  for (std::int64_t i : subset) {
    const auto label = static_cast<std::size_t>(set.labels[i]);
    if (label >= counts.size()) counts.resize(label + 1, 0);
    ++counts[label];
  }
  return counts;
}

Indices append(ImageSet& into, const ImageSet& from, std::int64_t track_offset) {
  if (into.size() == 0 && into.pixels.empty()) {
    into.height = from.height;
    into.width = from.width;
  }
  FEDSIGN_CHECK(from.size() == 0 || (from.height == into.height && from.width == into.width),
                "cannot append {}x{} images to a set of {}x{} images", from.width, from.height,
                into.width, into.height);
  Indices added(from.size());
  std::iota(added.begin(), added.end(), static_cast<std::int64_t>(into.size()));
  into.pixels.insert(into.pixels.end(), from.pixels.begin(), from.pixels.end());
  into.labels.insert(into.labels.end(), from.labels.begin(), from.labels.end());
  for (std::int64_t t : from.tracks) into.tracks.push_back(t + track_offset);
  into.paths.insert(into.paths.end(), from.paths.begin(), from.paths.end());
  return added;
}

Indices filter_classes(const ImageSet& set, const Indices& subset, const std::vector<int>& classes,
                       bool keep) {
  std::vector<bool> listed;
  for (int c : classes) {
    if (c < 0) continue;
    if (static_cast<std::size_t>(c) >= listed.size()) listed.resize(c + 1, false);
    listed[c] = true;
  }
  Indices out;
  for (std::int64_t i : subset) {
    const auto label = static_cast<std::size_t>(set.labels[i]);
    const bool in = label < listed.size() && listed[label];
    if (in == keep) out.push_back(i);
  }
  return out;
}

}  // namespace fedsign::data
