// A generated Kaggle-layout dataset (gtsrb_fixture.h) loaded into memory at `size` pixels and
// split by track: the data of the tests that train or evaluate on images. The folder lives as
// long as the object.
#pragma once

#include <cstdint>

#include "fedsign/data/image_set.h"
#include "fedsign/data/split.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::testing {

struct GeneratedData {
  GeneratedData(const FixtureOptions& options, int size, double val_fraction = 0.25,
                std::uint64_t split_seed = 1);
  TempDir dir;
  data::ImageSet set;
  data::TrackSplit split;
};

}  // namespace fedsign::testing
