// Stratified train/validation split by whole tracks. The shuffle is a hand-written Fisher-Yates
// over std::mt19937_64 (whose output is fixed by the standard), so a seed gives the same split
// with any standard library.
#include "fedsign/data/split.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "fedsign/core/check.h"

namespace fedsign::data {

namespace {

struct Track {
  std::int64_t id = 0;
  Indices images;
};

template <typename T>
void shuffle(std::vector<T>& items, std::mt19937_64& rng) {
  for (std::size_t i = items.size(); i > 1; --i) {
    const std::size_t j = static_cast<std::size_t>(rng() % i);  // bias negligible for i << 2^64
    std::swap(items[i - 1], items[j]);
  }
}

}  // namespace

TrackSplit split_by_track(const ImageSet& set, double validation_fraction, std::uint64_t seed) {
  FEDSIGN_CHECK(validation_fraction >= 0.0 && validation_fraction < 1.0,
                "validation fraction must be in [0, 1), got {}", validation_fraction);
  FEDSIGN_CHECK(set.tracks.size() == set.labels.size(),
                "image set has {} labels but {} track ids", set.labels.size(), set.tracks.size());

  // class -> track id -> images, both ordered, so the input order of images does not matter.
  std::map<std::int32_t, std::map<std::int64_t, Indices>> classes;
  for (std::size_t i = 0; i < set.size(); ++i) {
    classes[set.labels[i]][set.tracks[i]].push_back(static_cast<std::int64_t>(i));
  }

  TrackSplit split;
  std::mt19937_64 rng(seed);
  for (auto& [label, track_map] : classes) {
    std::vector<Track> tracks;
    std::size_t total = 0;
    for (auto& [id, images] : track_map) {
      total += images.size();
      tracks.push_back({id, std::move(images)});
    }
    shuffle(tracks, rng);

    // Take tracks while that brings the validation count closer to the target; at least one
    // (if fraction > 0 and the class has two tracks or more), never all of them.
    const double target = validation_fraction * static_cast<double>(total);
    std::size_t taken = 0, images_taken = 0;
    if (validation_fraction > 0.0 && tracks.size() >= 2) {
      while (taken + 1 < tracks.size()) {
        const double after = static_cast<double>(images_taken + tracks[taken].images.size());
        if (taken > 0 && std::abs(after - target) >= std::abs(images_taken - target)) break;
        images_taken += tracks[taken].images.size();
        ++taken;
      }
    }
    for (std::size_t t = 0; t < tracks.size(); ++t) {
      Indices& side = t < taken ? split.validation : split.train;
      side.insert(side.end(), tracks[t].images.begin(), tracks[t].images.end());
    }
  }
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.validation.begin(), split.validation.end());
  return split;
}

}  // namespace fedsign::data
