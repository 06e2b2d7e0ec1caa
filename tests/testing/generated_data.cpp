#include "tests/testing/generated_data.h"

#include "fedsign/data/gtsrb_reader.h"
#include "fedsign/data/image_loader.h"

namespace fedsign::testing {

namespace {

data::ImageSet load(const TempDir& dir, const FixtureOptions& options, int size) {
  write_kaggle_dataset(dir / "data", options);
  data::LoadOptions load;
  load.size = size;
  load.progress = false;
  load.threads = 1;
  return data::load_images(data::find_dataset(dir / "data"), load);
}

}  // namespace

GeneratedData::GeneratedData(const FixtureOptions& options, int size, double val_fraction,
                             std::uint64_t split_seed)
    : set(load(dir, options, size)), split(data::split_by_track(set, val_fraction, split_seed)) {}

}  // namespace fedsign::testing
