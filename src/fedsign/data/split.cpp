#include "fedsign/data/split.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "fedsign/core/check.h"

namespace fedsign::data {

namespace {

// Moves the first `taken` tracks' images to `held_out`, the rest to `kept`; both sorted.
void deal(const std::vector<Track>& tracks, std::size_t taken, Indices& held_out, Indices& kept) {
  for (std::size_t t = 0; t < tracks.size(); ++t) {
    Indices& side = t < taken ? held_out : kept;
    side.insert(side.end(), tracks[t].images.begin(), tracks[t].images.end());
  }
}

}  // namespace

std::vector<Track> tracks_of(const ImageSet& set, const Indices& pool) {
  FEDSIGN_CHECK(set.tracks.size() == set.labels.size(), "image set has {} labels but {} track ids",
                set.labels.size(), set.tracks.size());
  std::vector<Track> tracks;
  std::map<std::int64_t, std::size_t> position;
  for (std::int64_t i : pool) {
    FEDSIGN_CHECK(i >= 0 && static_cast<std::size_t>(i) < set.size(),
                  "image index {} outside the set of {}", i, set.size());
    const std::int64_t id = set.tracks[static_cast<std::size_t>(i)];
    auto [it, inserted] = position.emplace(id, tracks.size());
    if (inserted) tracks.push_back({id, set.labels[static_cast<std::size_t>(i)], {}});
    tracks[it->second].images.push_back(i);
  }
  return tracks;
}

std::size_t tracks_to_hold_out(const std::vector<Track>& tracks, double fraction,
                               bool at_least_one) {
  if (fraction <= 0.0) return 0;
  std::int64_t total = 0;
  for (const auto& t : tracks) total += t.size();
  const double target = fraction * static_cast<double>(total);
  std::size_t taken = 0;
  std::int64_t held = 0;
  if (at_least_one && tracks.size() < 2) return 0;
  while (taken + 1 < tracks.size()) {
    const auto after = static_cast<double>(held + tracks[taken].size());
    const bool forced = at_least_one && taken == 0;
    // Only while a track brings the held-out part closer to the target (so a client of two
    // tracks does not lose half its data to a 10% test share).
    if (!forced && std::abs(after - target) >= std::abs(static_cast<double>(held) - target)) break;
    held += tracks[taken].size();
    ++taken;
  }
  return taken;
}

TrackSplit split_by_track(const ImageSet& set, double validation_fraction, std::uint64_t seed,
                          double test_fraction) {
  FEDSIGN_CHECK(validation_fraction >= 0.0 && validation_fraction < 1.0,
                "validation fraction must be in [0, 1), got {}", validation_fraction);
  FEDSIGN_CHECK(test_fraction >= 0.0 && validation_fraction + test_fraction < 1.0,
                "test fraction must be >= 0 and leave images for training (validation {} + test "
                "{} < 1)", validation_fraction, test_fraction);
  FEDSIGN_CHECK(set.tracks.size() == set.labels.size(),
                "image set has {} labels but {} track ids", set.labels.size(), set.tracks.size());
  // class -> track id -> images, both ordered, so the input order of images does not matter.
  std::map<std::int32_t, std::map<std::int64_t, Indices>> classes;
  for (std::size_t i = 0; i < set.size(); ++i) {
    classes[set.labels[i]][set.tracks[i]].push_back(static_cast<std::int64_t>(i));
  }
  TrackSplit split;
  std::mt19937_64 rng(seed);
  // The test split's own stream: a constant apart from the validation stream's seed.
  std::mt19937_64 test_rng(seed ^ 0x7465737473706c74ULL);
  for (auto& [label, track_map] : classes) {
    std::vector<Track> tracks;
    for (auto& [id, images] : track_map) tracks.push_back({id, label, std::move(images)});
    double validation_share = validation_fraction;
    if (test_fraction > 0) {
      std::int64_t images = 0;
      for (const Track& t : tracks) images += t.size();
      shuffle_tracks(tracks, test_rng);
      const std::size_t held = tracks_to_hold_out(tracks, test_fraction, true);
      for (std::size_t k = 0; k < held; ++k) {
        split.test.insert(split.test.end(), tracks[k].images.begin(), tracks[k].images.end());
      }
      std::int64_t held_images = 0;
      for (std::size_t k = 0; k < held; ++k) held_images += tracks[k].size();
      tracks.erase(tracks.begin(), tracks.begin() + static_cast<std::ptrdiff_t>(held));
      // Validation's share of what is left, so that it is validation_fraction of the class.
      const std::int64_t left = images - held_images;
      validation_share = left > 0 ? std::min(0.99, validation_fraction * images / left) : 0.0;
      // Back to id order, so the validation draw below sees the tracks as the two-way split does.
      std::sort(tracks.begin(), tracks.end(), [](const Track& a, const Track& b) { return a.id < b.id; });
    }
    shuffle_tracks(tracks, rng);
    deal(tracks, tracks_to_hold_out(tracks, validation_share, true), split.validation,
         split.train);
  }
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.validation.begin(), split.validation.end());
  std::sort(split.test.begin(), split.test.end());
  return split;
}

ClientSplit split_client_data(const ImageSet& set, const Indices& images, double test_fraction,
                              std::uint64_t seed) {
  FEDSIGN_CHECK(test_fraction >= 0 && test_fraction < 1, "client test fraction {} not in [0, 1)",
                test_fraction);
  std::vector<Track> tracks = tracks_of(set, images);
  std::mt19937_64 rng(seed);
  shuffle_tracks(tracks, rng);
  ClientSplit split;
  deal(tracks, tracks_to_hold_out(tracks, test_fraction, false), split.test, split.train);
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.test.begin(), split.test.end());
  return split;
}

}  // namespace fedsign::data
