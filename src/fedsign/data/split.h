// Train/validation split by track: all frames of one physical sign land on one side, so
// near-duplicate frames never leak from training into validation. Stratified by class, seeded.
#pragma once

#include <cstdint>

#include "fedsign/data/image_set.h"

namespace fedsign::data {

struct TrackSplit {
  Indices train;
  Indices validation;
};

// Per class, shuffles that class's tracks with `seed` and puts about `validation_fraction` of its
// images (whole tracks, at least one track when the class has two or more) into validation.
TrackSplit split_by_track(const ImageSet& set, double validation_fraction, std::uint64_t seed);

}  // namespace fedsign::data
