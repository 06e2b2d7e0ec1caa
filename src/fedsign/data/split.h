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
  Indices test;  // empty unless a test fraction was asked for
};

// Per class, shuffles that class's tracks with `seed` and puts about `validation_fraction` of its
// images (whole tracks, at least one track when the class has two or more) into validation.
//
// With `test_fraction` > 0, first about that share of each class's images (whole tracks) goes to
// a test split that no choice may read, drawn from its own seeded stream: the test split depends
// on the set, `test_fraction` and `seed` only, never on `validation_fraction`, so tuning the
// validation share cannot move an image into or out of it. Validation then takes
// `validation_fraction` of all images from the remaining tracks (70/20/10 for 0.2 and 0.1). With
// `test_fraction` == 0 the split is exactly the two-way one.
TrackSplit split_by_track(const ImageSet& set, double validation_fraction, std::uint64_t seed,
                          double test_fraction = 0.0);

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
