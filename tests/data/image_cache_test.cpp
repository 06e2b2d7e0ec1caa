// The decoded-image cache: round trip, invalidation by source changes, damaged cache files.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "fedsign/data/image_loader.h"
#include "tests/testing/errors.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::data {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

struct CacheFixture {
  TempDir tmp;
  testing::FixtureInfo info;
  DatasetSource source;
  LoadOptions options;

  CacheFixture() {
    testing::FixtureOptions o;
    o.num_classes = 3;
    o.tracks_per_class = 2;
    o.frames_per_track = 3;
    info = testing::write_kaggle_dataset(tmp / "data", o);
    source = find_dataset(tmp / "data");
    options.threads = 2;
    options.progress = false;
    options.cache_dir = tmp / "cache";
  }
  ImageSet load(LoadReport* report) { return load_images(source, options, report); }
};

void expect_same(const ImageSet& a, const ImageSet& b) {
  EXPECT_EQ(a.height, b.height);
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.pixels, b.pixels);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.tracks, b.tracks);
  EXPECT_EQ(a.paths, b.paths);
}

TEST(ImageCache, SecondLoadComesFromTheCache) {
  CacheFixture f;
  LoadReport first, second;
  const ImageSet decoded = f.load(&first);
  EXPECT_FALSE(first.from_cache);
  EXPECT_TRUE(fs::exists(first.cache_file));
  EXPECT_EQ(first.cache_file.parent_path(), f.options.cache_dir);
  EXPECT_TRUE(std::regex_match(first.cache_file.filename().string(),
                               std::regex("gtsrb-[0-9a-f]{16}\\.fsc")));
  const ImageSet cached = f.load(&second);
  EXPECT_TRUE(second.from_cache);
  EXPECT_EQ(second.cache_file, first.cache_file);
  EXPECT_EQ(second.loaded, 18u);
  expect_same(decoded, cached);
}

TEST(ImageCache, WriteReadRoundTrip) {
  CacheFixture f;
  f.options.cache_dir.clear();
  const ImageSet set = f.load(nullptr);
  const fs::path file = f.tmp / "x.fsc";
  write_cache(file, set, 1234, 7);
  ImageSet back;
  std::size_t skipped = 0;
  ASSERT_TRUE(read_cache(file, 1234, &back, &skipped));
  EXPECT_EQ(skipped, 7u);
  expect_same(set, back);
}

TEST(ImageCache, ChecksumIgnoresThreadsAndProgressOnly) {
  CacheFixture f;
  const std::uint64_t base = source_checksum(f.source, f.options);
  LoadOptions o = f.options;
  o.threads = 7;
  o.progress = true;
  o.on_bad_image = OnBadImage::kSkip;
  EXPECT_EQ(source_checksum(f.source, o), base);
  o = f.options;
  o.size = 48;
  EXPECT_NE(source_checksum(f.source, o), base);
  o = f.options;
  o.contrast = Contrast::kClahe;
  EXPECT_NE(source_checksum(f.source, o), base);
  o = f.options;
  o.crop_roi = false;
  EXPECT_NE(source_checksum(f.source, o), base);
  DatasetSource edited = f.source;
  edited.records[3].roi.x1 += 1;
  EXPECT_NE(source_checksum(edited, f.options), base);
  edited = f.source;
  edited.records[3].class_id = 2;
  EXPECT_NE(source_checksum(edited, f.options), base);
}

TEST(ImageCache, TouchedImageInvalidates) {
  CacheFixture f;
  LoadReport first, second;
  f.load(&first);
  testing::bump_mtime(f.info.train_images[4]);
  f.load(&second);
  EXPECT_FALSE(second.from_cache);
  EXPECT_NE(second.cache_file, first.cache_file);
}

TEST(ImageCache, ReplacedImageInvalidatesAndIsRedecoded) {
  CacheFixture f;
  LoadReport first, second;
  const ImageSet before = f.load(&first);
  fs::copy_file(f.info.train_images[0], f.info.train_images[4],
                fs::copy_options::overwrite_existing);
  testing::bump_mtime(f.info.train_images[4]);
  const ImageSet after = f.load(&second);
  EXPECT_FALSE(second.from_cache);
  EXPECT_NE(before.pixels, after.pixels);
}

TEST(ImageCache, EditedCsvInvalidates) {
  CacheFixture f;
  LoadReport first, second;
  f.load(&first);
  const fs::path csv = f.tmp / "data" / "Train.csv";
  // Move one record to another class: same images, different labels.
  testing::replace_line(csv, 2, "40,40,5,5,30,30,1,Train/0/00000_00000_00000.png");
  f.source = find_dataset(f.tmp / "data");
  const ImageSet set = f.load(&second);
  EXPECT_FALSE(second.from_cache);
  EXPECT_EQ(set.labels[0], 1);
}

TEST(ImageCache, DamagedCacheFilesAreMisses) {
  CacheFixture f;
  LoadReport report;
  const ImageSet set = f.load(&report);
  const std::uint64_t checksum = source_checksum(f.source, f.options);
  ImageSet out;
  ASSERT_TRUE(read_cache(report.cache_file, checksum, &out));
  EXPECT_FALSE(read_cache(report.cache_file, checksum + 1, &out));  // other source
  EXPECT_FALSE(read_cache(f.tmp / "missing.fsc", checksum, &out));

  const std::string bytes = testing::read_text(report.cache_file);
  const fs::path damaged = f.tmp / "damaged.fsc";
  testing::write_text(damaged, bytes.substr(0, bytes.size() / 2));  // truncated
  EXPECT_FALSE(read_cache(damaged, checksum, &out));
  testing::write_text(damaged, bytes.substr(0, bytes.size() - 1));  // lost the trailer byte
  EXPECT_FALSE(read_cache(damaged, checksum, &out));
  testing::write_text(damaged, bytes + "x");  // trailing junk
  EXPECT_FALSE(read_cache(damaged, checksum, &out));
  std::string flipped = bytes;
  flipped[flipped.size() / 2] ^= 0x40;  // one pixel bit
  testing::write_text(damaged, flipped);
  EXPECT_FALSE(read_cache(damaged, checksum, &out));
  std::string huge = bytes;
  huge[24] = '\xff';  // absurd image count in the header
  huge[31] = '\x7f';
  testing::write_text(damaged, huge);
  EXPECT_FALSE(read_cache(damaged, checksum, &out));
  testing::write_garbage(damaged, 10);
  EXPECT_FALSE(read_cache(damaged, checksum, &out));
  EXPECT_EQ(out.size(), set.size());  // failed reads left the last good result alone
  expect_same(out, set);

  // A truncated cache in place is simply re-decoded (and rewritten).
  testing::truncate_file(report.cache_file, 0.5);
  LoadReport again;
  expect_same(f.load(&again), set);
  EXPECT_FALSE(again.from_cache);
  LoadReport third;
  f.load(&third);
  EXPECT_TRUE(third.from_cache);
}

TEST(ImageCache, SkippedImagesAreRememberedAndAbortRedecodes) {
  CacheFixture f;
  testing::write_garbage(f.info.train_images[5]);
  f.source = find_dataset(f.tmp / "data");
  f.options.on_bad_image = OnBadImage::kSkip;
  LoadReport first, second;
  f.load(&first);
  EXPECT_EQ(first.skipped, 1u);
  const ImageSet cached = f.load(&second);
  EXPECT_TRUE(second.from_cache);
  EXPECT_EQ(second.skipped, 1u);
  EXPECT_EQ(cached.size(), 17u);
  // Under kAbort the cache (which lacks an image) must not hide the bad file.
  f.options.on_bad_image = OnBadImage::kAbort;
  EXPECT_ERROR(f.load(nullptr), "Train/0/00000_00001_00002.png (Train.csv:7): cannot decode image");
}

TEST(ImageCache, UnwritableCacheFolderIsReportedBeforeDecoding) {
  CacheFixture f;
  testing::write_text(f.tmp / "file", "not a folder");
  f.options.cache_dir = f.tmp / "file" / "cache";
  EXPECT_ERROR(f.load(nullptr), "cannot create cache folder");
}

}  // namespace
}  // namespace fedsign::data
