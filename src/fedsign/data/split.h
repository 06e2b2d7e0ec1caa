// Splits by track: all frames of one physical sign land on one side, so near-duplicate frames
// never leak from training into validation (or from a client's training into its local test).
// One splitter serves both uses: tracks are shuffled by a hand-written Fisher-Yates over
// std::mt19937_64 (whose output the standard fixes, so a seed gives the same split with any
// standard library) and taken while that brings the held-out share closer to its target.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "fedsign/data/image_set.h"

namespace fedsign::data {

// All frames of one physical sign in a set.
struct Track {
  std::int64_t id = 0;
  std::int32_t label = 0;
  Indices images;
  std::int64_t size() const { return static_cast<std::int64_t>(images.size()); }
};

// Tracks of `pool`, ordered by first appearance in the pool. Throws fedsign::Error for an index
// outside the set or a set whose track ids do not match its labels.
std::vector<Track> tracks_of(const ImageSet& set, const Indices& pool);

// Fisher-Yates over mt19937_64 with `rng() % i` (bias negligible for i << 2^64).
template <typename T>
void shuffle_tracks(std::vector<T>& items, std::mt19937_64& rng) {
  for (std::size_t i = items.size(); i > 1; --i) {
    std::swap(items[i - 1], items[static_cast<std::size_t>(rng() % i)]);
  }
}

// How many of `tracks` (in order) to hold out for `fraction` of their images: tracks are taken
// while that brings the held-out count closer to the target, never all of them; with
// `at_least_one`, one track is taken whenever fraction > 0 and there are two or more.
std::size_t tracks_to_hold_out(const std::vector<Track>& tracks, double fraction,
                               bool at_least_one);

struct TrackSplit {
  Indices train;
  Indices validation;
};

// Per class, shuffles that class's tracks with `seed` and puts about `validation_fraction` of its
// images (whole tracks, at least one track when the class has two or more) into validation.
TrackSplit split_by_track(const ImageSet& set, double validation_fraction, std::uint64_t seed);

// A client's images split by track into local training and test parts (not stratified: a client
// holds few classes): tracks are shuffled (seeded) and moved to the test part while that brings
// it closer to test_fraction of the images; the training part keeps at least one track.
struct ClientSplit {
  Indices train;
  Indices test;
};
ClientSplit split_client_data(const ImageSet& set, const Indices& images, double test_fraction,
                              std::uint64_t seed);

}  // namespace fedsign::data
