// load_images()/decode_image(): order, ROI crop, colour order, contrast, bad images.
#include "fedsign/data/image_loader.h"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <set>
#include <vector>

#include "tests/testing/errors.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::data {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

testing::FixtureOptions small(int classes = 4) {
  testing::FixtureOptions o;
  o.num_classes = classes;
  o.tracks_per_class = 2;
  o.frames_per_track = 3;
  return o;
}

LoadOptions quiet(int threads = 2) {
  LoadOptions o;
  o.threads = threads;
  o.progress = false;
  return o;
}

TEST(ImageLoader, DecodesEveryRecordInOrder) {
  TempDir tmp;
  testing::write_kaggle_dataset(tmp.path(), small());
  const DatasetSource source = find_dataset(tmp.path());
  LoadReport report;
  const ImageSet set = load_images(source, quiet(), &report);
  ASSERT_EQ(set.size(), 24u);
  EXPECT_EQ(set.height, 32);
  EXPECT_EQ(set.width, 32);
  EXPECT_EQ(set.pixels.size(), 24u * 32 * 32 * 3);
  for (std::size_t i = 0; i < set.size(); ++i) {
    EXPECT_EQ(set.labels[i], source.records[i].class_id);
    EXPECT_EQ(set.tracks[i], source.records[i].track);
    EXPECT_EQ(set.paths[i], source.records[i].relative_path);
  }
  EXPECT_EQ(report.loaded, 24u);
  EXPECT_EQ(report.skipped, 0u);
  EXPECT_FALSE(report.from_cache);
  EXPECT_TRUE(report.cache_file.empty());
  // Each slot holds its own record's image: decoding that file alone gives the same bytes, and
  // no two slots are equal (the fixture's images all differ).
  const std::size_t bytes = set.image_bytes();
  std::set<std::vector<std::uint8_t>> distinct;
  for (std::size_t i = 0; i < set.size(); ++i) {
    std::vector<std::uint8_t> alone(bytes);
    ASSERT_EQ(decode_image(source.records[i].image, &source.records[i].roi, quiet(), alone.data()), "");
    const std::vector<std::uint8_t> slot(set.pixels.begin() + i * bytes,
                                         set.pixels.begin() + (i + 1) * bytes);
    EXPECT_EQ(slot, alone) << source.records[i].relative_path;
    distinct.insert(slot);
  }
  EXPECT_EQ(distinct.size(), set.size());
}

TEST(ImageLoader, ResultDoesNotDependOnThreadCount) {
  TempDir tmp;
  testing::write_official_dataset(tmp.path(), small());
  const DatasetSource source = find_dataset(tmp.path());
  LoadOptions options = quiet(1);
  options.contrast = Contrast::kClahe;
  const ImageSet one = load_images(source, options);
  options.threads = 3;
  const ImageSet three = load_images(source, options);
  EXPECT_EQ(one.pixels, three.pixels);
  EXPECT_EQ(one.labels, three.labels);
}

// A 10x8 image whose pixel (x, y) is BGR (x*20, y*20, 200): easy to check crops against.
fs::path write_gradient(const fs::path& file) {
  cv::Mat image(8, 10, CV_8UC3);
  for (int y = 0; y < image.rows; ++y) {
    for (int x = 0; x < image.cols; ++x) image.at<cv::Vec3b>(y, x) = cv::Vec3b(x * 20, y * 20, 200);
  }
  cv::imwrite(file.string(), image);
  return file;
}

TEST(ImageLoader, CropsTheInclusiveRoiAndConvertsToRgb) {
  TempDir tmp;
  const fs::path file = write_gradient(tmp / "gradient.png");
  LoadOptions options = quiet();
  options.size = 4;  // the ROI below is 4x4: no resampling
  const Roi roi{2, 3, 5, 6};
  std::vector<std::uint8_t> out(4 * 4 * 3);
  ASSERT_EQ(decode_image(file, &roi, options, out.data()), "");
  for (int y = 0; y < 4; ++y) {
    for (int x = 0; x < 4; ++x) {
      const std::uint8_t* px = &out[(y * 4 + x) * 3];
      EXPECT_EQ(px[0], 200) << x << "," << y;              // R (was the third BGR channel)
      EXPECT_EQ(px[1], (y + 3) * 20) << x << "," << y;     // G
      EXPECT_EQ(px[2], (x + 2) * 20) << x << "," << y;     // B
    }
  }
}

TEST(ImageLoader, ClampsRoiToTheImageAndCanSkipCropping) {
  TempDir tmp;
  const fs::path file = write_gradient(tmp / "gradient.png");
  LoadOptions options = quiet();
  options.size = 2;
  const Roi roi{8, 6, 12, 12};  // only (8..9, 6..7) lies inside the 10x8 image
  std::vector<std::uint8_t> out(2 * 2 * 3);
  ASSERT_EQ(decode_image(file, &roi, options, out.data()), "");
  EXPECT_EQ(out[2], 160);  // B of (8, 6)
  EXPECT_EQ(out[1], 120);  // G of (8, 6)

  options.size = 10;
  options.crop_roi = false;
  std::vector<std::uint8_t> whole(10 * 10 * 3);
  ASSERT_EQ(decode_image(file, &roi, options, whole.data()), "");  // 10x8 -> 10x10, upscaled
  EXPECT_EQ(whole[2], 0);  // B of the top-left pixel
}

TEST(ImageLoader, ContrastNormalizationChangesPixelsKeepsShape) {
  TempDir tmp;
  testing::write_kaggle_dataset(tmp.path(), small(2));
  const DatasetSource source = find_dataset(tmp.path());
  LoadOptions options = quiet();
  const ImageSet plain = load_images(source, options);
  for (Contrast contrast : {Contrast::kEqualize, Contrast::kClahe}) {
    options.contrast = contrast;
    const ImageSet normalized = load_images(source, options);
    EXPECT_EQ(normalized.size(), plain.size()) << to_string(contrast);
    EXPECT_EQ(normalized.pixels.size(), plain.pixels.size()) << to_string(contrast);
    EXPECT_EQ(normalized.labels, plain.labels);
    std::size_t changed = 0;
    for (std::size_t i = 0; i < plain.pixels.size(); ++i) changed += plain.pixels[i] != normalized.pixels[i];
    EXPECT_GT(changed, plain.pixels.size() / 4) << to_string(contrast);
  }
}

TEST(ImageLoader, EqualizeStretchesLuminance) {
  TempDir tmp;
  cv::Mat dull(16, 16, CV_8UC3);
  for (int y = 0; y < 16; ++y) {
    for (int x = 0; x < 16; ++x) dull.at<cv::Vec3b>(y, x) = cv::Vec3b::all(100 + (x + y) / 2);
  }
  cv::imwrite((tmp / "dull.png").string(), dull);
  LoadOptions options = quiet();
  options.size = 16;
  options.contrast = Contrast::kEqualize;
  std::vector<std::uint8_t> out(16 * 16 * 3);
  ASSERT_EQ(decode_image(tmp / "dull.png", nullptr, options, out.data()), "");
  const auto [lo, hi] = std::minmax_element(out.begin(), out.end());
  EXPECT_LT(*lo, 30);
  EXPECT_GT(*hi, 220);
}

TEST(ImageLoader, MissingImageNamesPathAndCsvLine) {
  TempDir tmp;
  const auto info = testing::write_kaggle_dataset(tmp.path(), small(3));
  fs::remove(info.train_images[7]);  // class 1, track 0, frame 1: line 9
  const DatasetSource source = find_dataset(tmp.path());
  EXPECT_ERROR(load_images(source, quiet()),
               "Train/1/00001_00000_00001.png (Train.csv:9): image file not found");
}

TEST(ImageLoader, CorruptImageNamesPathAndCsvLine) {
  TempDir tmp;
  const auto info = testing::write_kaggle_dataset(tmp.path(), small(3));
  testing::write_garbage(info.train_images[13]);  // class 2, track 0, frame 1: line 15
  const DatasetSource source = find_dataset(tmp.path());
  EXPECT_ERROR(load_images(source, quiet()),
               "Train/2/00002_00000_00001.png (Train.csv:15): cannot decode image");
}

TEST(ImageLoader, TruncatedImageIsReported) {
  TempDir tmp;
  const auto info = testing::write_official_dataset(tmp.path(), small(2));
  testing::truncate_file(info.train_images[4], 0.5);
  const DatasetSource source = find_dataset(tmp.path());
  EXPECT_ERROR(load_images(source, quiet()),
               "Final_Training/Images/00000/00001_00001.ppm "
               "(Final_Training/Images/00000/GT-00000.csv:6): cannot decode image");

  TempDir png;
  const auto png_info = testing::write_kaggle_dataset(png.path(), small(2));
  testing::truncate_file(png_info.train_images[2], 0.5);
  EXPECT_ERROR(load_images(find_dataset(png.path()), quiet()),
               "Train/0/00000_00000_00002.png (Train.csv:4): cannot decode image");
}

TEST(ImageLoader, FirstBadImageIsReportedWhateverTheThreadCount) {
  TempDir tmp;
  const auto info = testing::write_kaggle_dataset(tmp.path(), small(4));
  testing::write_garbage(info.train_images[5]);
  testing::write_garbage(info.train_images[20]);
  const DatasetSource source = find_dataset(tmp.path());
  for (int threads : {1, 2, 4}) {
    EXPECT_ERROR(load_images(source, quiet(threads)), "(Train.csv:7): cannot decode image");
  }
}

TEST(ImageLoader, SkipPolicyCountsAndKeepsOrder) {
  TempDir tmp;
  const auto info = testing::write_kaggle_dataset(tmp.path(), small(3));
  testing::write_garbage(info.train_images[2]);
  fs::remove(info.train_images[10]);
  testing::truncate_file(info.train_images[11], 0.3);
  const DatasetSource source = find_dataset(tmp.path());
  LoadOptions options = quiet();
  options.on_bad_image = OnBadImage::kSkip;
  LoadReport report;
  const ImageSet set = load_images(source, options, &report);
  EXPECT_EQ(report.loaded, 15u);
  EXPECT_EQ(report.skipped, 3u);
  ASSERT_EQ(report.problems.size(), 3u);
  EXPECT_NE(report.problems[1].find("(Train.csv:12): image file not found"), std::string::npos);
  ASSERT_EQ(set.size(), 15u);
  EXPECT_EQ(set.pixels.size(), 15u * set.image_bytes());
  std::vector<std::string> expected;
  for (std::size_t i = 0; i < source.records.size(); ++i) {
    if (i != 2 && i != 10 && i != 11) expected.push_back(source.records[i].relative_path);
  }
  EXPECT_EQ(set.paths, expected);

  // Kept images are the same pixels as a clean load of just the good records.
  DatasetSource good = source;
  for (std::size_t i : {11, 10, 2}) good.records.erase(good.records.begin() + i);
  EXPECT_EQ(load_images(good, quiet()).pixels, set.pixels);
}

TEST(ImageLoader, RejectsBadOptions) {
  TempDir tmp;
  testing::write_kaggle_dataset(tmp.path(), small(1));
  const DatasetSource source = find_dataset(tmp.path());
  LoadOptions options = quiet();
  options.size = 0;
  EXPECT_ERROR(load_images(source, options), "image size must be in [1, 4096], got 0");
  EXPECT_ERROR(parse_contrast("hist"), "unknown contrast 'hist'");
  EXPECT_EQ(parse_contrast("clahe"), Contrast::kClahe);
  EXPECT_EQ(to_string(parse_on_bad_image("skip")), "skip");
  EXPECT_ERROR(parse_on_bad_image("ignore"), "unknown on-bad-image policy 'ignore'");
}

}  // namespace
}  // namespace fedsign::data
