#include "fedsign/fl/attack/data_poisoning.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "fedsign/core/check.h"
#include "fedsign/fl/rng.h"

namespace fedsign::fl::attack {

namespace {

void check_trigger(const Trigger& t, int height, int width) {
  FEDSIGN_CHECK(t.size >= 1 && t.cell >= 1 && t.margin >= 0,
                "backdoor trigger: size {}, cell {}, margin {} must be positive", t.size, t.cell,
                t.margin);
  FEDSIGN_CHECK(t.size + t.margin <= std::min(height, width),
                "backdoor trigger of {} px (margin {}) does not fit a {}x{} image", t.size,
                t.margin, width, height);
}

// Whether pixel (y, x) of the patch is a white cell.
bool white(const Trigger& t, int y, int x) { return ((y / t.cell) + (x / t.cell)) % 2 == 0; }

}  // namespace

data::ImageSet image_copy(const data::ImageSet& set, const data::Indices& indices) {
  data::ImageSet out;
  out.height = set.height;
  out.width = set.width;
  out.pixels.resize(indices.size() * set.image_bytes());
  for (std::size_t k = 0; k < indices.size(); ++k) {
    const int64_t i = indices[k];
    FEDSIGN_CHECK(i >= 0 && static_cast<std::size_t>(i) < set.size(),
                  "attack: image index {} outside the set of {}", i, set.size());
    std::memcpy(out.pixels.data() + k * set.image_bytes(), set.image(i), set.image_bytes());
    out.labels.push_back(set.labels[i]);
    out.tracks.push_back(set.tracks.empty() ? 0 : set.tracks[i]);
    out.paths.push_back(set.paths.empty() ? std::string() : set.paths[i]);
  }
  return out;
}

LabelMap reverse_labels(int num_classes) {
  FEDSIGN_CHECK(num_classes >= 2, "label flip: {} classes", num_classes);
  return [num_classes](int32_t c) { return num_classes - 1 - c; };
}

LabelMap relabel(int32_t source, int32_t target) {
  return [source, target](int32_t c) { return c == source ? target : c; };
}

data::ImageSet label_flipped_copy(const data::ImageSet& set, const data::Indices& indices,
                                  const LabelMap& map) {
  data::ImageSet out = image_copy(set, indices);
  for (auto& label : out.labels) label = map(label);
  return out;
}

void stamp_trigger(data::ImageSet& set, std::size_t index, const Trigger& t) {
  check_trigger(t, set.height, set.width);
  FEDSIGN_CHECK(index < set.size(), "backdoor: image {} outside the set of {}", index, set.size());
  std::uint8_t* image = set.image(index);
  const int top = set.height - t.margin - t.size, left = set.width - t.margin - t.size;
  for (int y = 0; y < t.size; ++y) {
    for (int x = 0; x < t.size; ++x) {
      std::uint8_t* px = image + (static_cast<std::size_t>(top + y) * set.width + (left + x)) * 3;
      std::memset(px, white(t, y, x) ? 255 : 0, 3);
    }
  }
}

torch::Tensor stamp_trigger(const torch::Tensor& batch, const Trigger& t, double high, double low) {
  FEDSIGN_CHECK(batch.dim() == 4, "backdoor: expected an N x C x H x W batch, got {} dims",
                batch.dim());
  const auto height = static_cast<int>(batch.size(2)), width = static_cast<int>(batch.size(3));
  check_trigger(t, height, width);
  torch::Tensor pattern = torch::empty({t.size, t.size}, batch.options());
  for (int y = 0; y < t.size; ++y) {
    for (int x = 0; x < t.size; ++x) pattern[y][x] = white(t, y, x) ? high : low;
  }
  torch::Tensor out = batch.clone();
  out.narrow(2, height - t.margin - t.size, t.size)
      .narrow(3, width - t.margin - t.size, t.size)
      .copy_(pattern.expand({batch.size(0), batch.size(1), t.size, t.size}));
  return out;
}

data::ImageSet backdoor_training_copy(const data::ImageSet& set, const data::Indices& indices,
                                      const Trigger& trigger, double poison_fraction,
                                      uint64_t seed) {
  FEDSIGN_CHECK(poison_fraction >= 0 && poison_fraction <= 1,
                "backdoor: poison fraction {} not in [0, 1]", poison_fraction);
  data::ImageSet out = image_copy(set, indices);
  std::vector<std::size_t> order(out.size());
  std::iota(order.begin(), order.end(), 0);
  // Fisher-Yates with SplitMix64 draws: the same choice on every platform.
  for (std::size_t k = order.size(); k > 1; --k) {
    const uint64_t draw = splitmix64(derive_seed(seed, {k}));
    std::swap(order[k - 1], order[draw % k]);
  }
  const auto poisoned =
      static_cast<std::size_t>(std::llround(poison_fraction * static_cast<double>(out.size())));
  for (std::size_t k = 0; k < poisoned; ++k) {
    stamp_trigger(out, order[k], trigger);
    out.labels[order[k]] = trigger.target_label;
  }
  return out;
}

data::ImageSet triggered_evaluation_set(const data::ImageSet& set, const data::Indices& indices,
                                        const Trigger& trigger) {
  data::Indices others;
  for (int64_t i : indices) {
    if (set.labels.at(static_cast<std::size_t>(i)) != trigger.target_label) others.push_back(i);
  }
  data::ImageSet out = image_copy(set, others);
  for (std::size_t k = 0; k < out.size(); ++k) {
    stamp_trigger(out, k, trigger);
    out.labels[k] = trigger.target_label;
  }
  return out;
}

}  // namespace fedsign::fl::attack
