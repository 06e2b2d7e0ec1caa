#include "fedsign/data/image_set.h"

#include <algorithm>
#include <numeric>

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

}  // namespace fedsign::data
