// The real GTSRB copy (../shared/data/gtsrb, skipped when absent) and the embedded sample
// (data/sample). Kept fast: full parsing, but decoding only a subset.
#include <gtest/gtest.h>

#include <set>

#include "fedsign/data/gtsrb_reader.h"
#include "fedsign/data/image_loader.h"
#include "fedsign/data/split.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::data {
namespace {

namespace fs = std::filesystem;

LoadOptions quiet() {
  LoadOptions o;
  o.threads = 2;
  o.progress = false;
  return o;
}

TEST(RealData, ParsesAllRecordsAndDecodesASubset) {
  const fs::path dir = testing::real_gtsrb_dir();
  if (!fs::exists(dir / "Train.csv")) GTEST_SKIP() << "no GTSRB copy at " << dir;
  const DatasetSource source = find_dataset(dir);
  EXPECT_EQ(source.layout, Layout::kKaggle);
  ASSERT_EQ(source.records.size(), 19605u);
  std::set<int> classes;
  std::set<std::int64_t> tracks;
  for (const auto& r : source.records) {
    classes.insert(r.class_id);
    tracks.insert(r.track);
  }
  EXPECT_EQ(classes.size(), 43u);
  EXPECT_GT(tracks.size(), 1000u);  // ~15 kept frames per track

  DatasetSource subset = source;
  subset.records.clear();
  for (std::size_t i = 0; i < source.records.size(); i += 200) {
    subset.records.push_back(source.records[i]);
  }
  LoadReport report;
  const ImageSet set = load_images(subset, quiet(), &report);
  EXPECT_EQ(set.size(), subset.records.size());
  EXPECT_EQ(report.skipped, 0u);
}

TEST(EmbeddedSample, Has516ImagesOf43ClassesAndLoads) {
  const fs::path dir = testing::sample_data_dir();
  ASSERT_TRUE(fs::exists(dir / "Train.csv")) << dir;
  const DatasetSource source = find_dataset(dir);
  EXPECT_EQ(source.layout, Layout::kKaggle);
  ASSERT_EQ(source.records.size(), 516u);
  LoadReport report;
  const ImageSet set = load_images(source, quiet(), &report);
  EXPECT_EQ(set.size(), 516u);
  const auto counts = class_counts(set, all_indices(set));
  for (int c = 0; c < kNumGtsrbClasses; ++c) EXPECT_EQ(counts[c], 12) << c;
  std::set<std::int64_t> tracks(set.tracks.begin(), set.tracks.end());
  EXPECT_EQ(tracks.size(), 43u * 4);
  const TrackSplit split = split_by_track(set, 0.25, 1);
  EXPECT_EQ(split.validation.size(), 43u * 3);  // one of the four tracks per class
}

}  // namespace
}  // namespace fedsign::data
