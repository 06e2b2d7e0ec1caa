// find_dataset(): both layouts, detection at depth, the official test labels, bad annotations.
#include "fedsign/data/gtsrb_reader.h"
#include "fedsign/data/test_set_fallback.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/testing/errors.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::data {
namespace {

namespace fs = std::filesystem;
using testing::FixtureOptions;
using testing::TempDir;

FixtureOptions small(int classes = 5) {
  FixtureOptions o;
  o.num_classes = classes;
  o.tracks_per_class = 2;
  o.frames_per_track = 3;
  return o;
}

TEST(GtsrbReader, ReadsKaggleLayout) {
  TempDir tmp;
  const auto info = testing::write_kaggle_dataset(tmp.path(), small());
  const DatasetSource source = find_dataset(tmp.path());
  EXPECT_EQ(source.layout, Layout::kKaggle);
  EXPECT_EQ(source.subset, Subset::kTrain);
  EXPECT_EQ(source.root, tmp.path());
  ASSERT_EQ(source.records.size(), 30u);
  ASSERT_EQ(source.annotation_files.size(), 1u);
  for (std::size_t i = 0; i < source.records.size(); ++i) {
    const SampleRecord& r = source.records[i];
    EXPECT_EQ(r.image, info.train_images[i]);
    EXPECT_EQ(r.class_id, info.train_labels[i]);
    EXPECT_EQ(r.annotation_file, "Train.csv");
    EXPECT_EQ(r.line, static_cast<int>(i) + 2);
    EXPECT_GE(r.width, 30);
    EXPECT_LE(r.width, 40);
    EXPECT_LT(r.roi.x1, r.roi.x2);
    EXPECT_LT(r.roi.x2, r.width);
    EXPECT_LT(r.roi.y2, r.height);
  }
  const SampleRecord& r = source.records[3 * 2 * 2 + 4];  // class 2, track 1, frame 1
  EXPECT_EQ(r.relative_path, "Train/2/00002_00001_00001.png");
  EXPECT_EQ(r.track, 2 * 100000 + 1);
}

TEST(GtsrbReader, KaggleColumnsByNameCrlfAndBlankLines) {
  TempDir tmp;
  testing::write_text(tmp / "Train.csv",
                      "\xEF\xBB\xBF" "ClassId,Path,Width,Height,Roi.X2,Roi.Y2,Roi.X1,Roi.Y1\r\n"
                      "7,Train/7/00007_00012_00004.png,31,29,25,23,5,6\r\n"
                      "42,Train/42/00042_00003_00000.png,50,60,44,54,5,5\r\n"
                      "\r\n\r\n");
  const DatasetSource source = find_dataset(tmp.path());
  ASSERT_EQ(source.records.size(), 2u);
  const SampleRecord& r = source.records[0];
  EXPECT_EQ(r.class_id, 7);
  EXPECT_EQ(r.width, 31);
  EXPECT_EQ(r.height, 29);
  EXPECT_EQ(r.roi.x1, 5);
  EXPECT_EQ(r.roi.y1, 6);
  EXPECT_EQ(r.roi.x2, 25);
  EXPECT_EQ(r.roi.y2, 23);
  EXPECT_EQ(r.track, 700012);
  EXPECT_EQ(r.image, tmp / "Train/7/00007_00012_00004.png");
  EXPECT_EQ(source.records[1].track, 4200003);
  EXPECT_EQ(source.records[1].line, 3);
}

TEST(GtsrbReader, ReadsOfficialLayout) {
  TempDir tmp;
  FixtureOptions o = small();
  o.crlf = true;
  const auto info = testing::write_official_dataset(tmp / "GTSRB", o);
  const DatasetSource source = find_dataset(tmp / "GTSRB");
  EXPECT_EQ(source.layout, Layout::kOfficial);
  EXPECT_EQ(source.root, tmp / "GTSRB");
  ASSERT_EQ(source.records.size(), 30u);
  EXPECT_EQ(source.annotation_files.size(), 5u);
  for (std::size_t i = 0; i < source.records.size(); ++i) {
    EXPECT_EQ(source.records[i].image, info.train_images[i]);
    EXPECT_EQ(source.records[i].class_id, info.train_labels[i]);
  }
  const SampleRecord& r = source.records[3 * 2 * 3 + 5];  // class 3, track 1, frame 2
  EXPECT_EQ(r.relative_path, "Final_Training/Images/00003/00001_00002.ppm");
  EXPECT_EQ(r.annotation_file, "Final_Training/Images/00003/GT-00003.csv");
  EXPECT_EQ(r.line, 7);
  EXPECT_EQ(r.track, 300001);
}

TEST(GtsrbReader, TrackIdsGroupFramesOfOneSign) {
  TempDir tmp;
  testing::write_kaggle_dataset(tmp.path(), small());
  const DatasetSource source = find_dataset(tmp.path());
  std::set<std::int64_t> tracks;
  for (const auto& r : source.records) tracks.insert(r.track);
  EXPECT_EQ(tracks.size(), 10u);  // 5 classes x 2 tracks
}

TEST(GtsrbReader, DetectsKaggleLayoutTwoFoldersDown) {
  TempDir tmp;
  const fs::path root = tmp / "downloads" / "gtsrb-german-traffic-sign";
  testing::write_kaggle_dataset(root, small(3));
  fs::create_directories(tmp / "aaa-unrelated" / "x");
  const DatasetSource source = find_dataset(tmp.path());
  EXPECT_EQ(source.layout, Layout::kKaggle);
  EXPECT_EQ(source.root, root);
  EXPECT_EQ(source.records.size(), 18u);
}

TEST(GtsrbReader, DetectsOfficialLayoutFromAnyFolder) {
  TempDir tmp;
  const fs::path root = tmp / "unpacked" / "GTSRB";
  testing::write_official_dataset(root, small(3));
  for (const fs::path& start : {tmp.path(), root, root / "Final_Training"}) {
    const DatasetSource source = find_dataset(start);
    EXPECT_EQ(source.layout, Layout::kOfficial) << start;
    EXPECT_EQ(source.root, root) << start;
    EXPECT_EQ(source.records.size(), 18u) << start;
  }
}

TEST(GtsrbReader, KaggleTestSubsetHasOneTrackPerImage) {
  TempDir tmp;
  FixtureOptions o = small(4);
  o.test_images_per_class = 3;
  const auto info = testing::write_kaggle_dataset(tmp.path(), o);
  FindOptions options;
  options.subset = Subset::kTest;
  const DatasetSource source = find_dataset(tmp.path(), options);
  EXPECT_EQ(source.subset, Subset::kTest);
  ASSERT_EQ(source.records.size(), 12u);
  std::set<std::int64_t> tracks;
  for (std::size_t i = 0; i < source.records.size(); ++i) {
    EXPECT_EQ(source.records[i].class_id, info.test_labels[i]);
    EXPECT_GE(source.records[i].track, 1000000000);
    tracks.insert(source.records[i].track);
  }
  EXPECT_EQ(tracks.size(), 12u);
}

TEST(GtsrbReader, OfficialTestFindsLabelsBelowTheGivenFolder) {
  TempDir tmp;
  FixtureOptions o = small(4);
  o.test_images_per_class = 2;
  const auto info = testing::write_official_dataset(tmp / "GTSRB", o);  // labels at GTSRB/
  FindOptions options;
  options.subset = Subset::kTest;
  const DatasetSource source = find_dataset(tmp.path(), options);
  EXPECT_EQ(source.layout, Layout::kOfficial);
  ASSERT_EQ(source.records.size(), 8u);
  EXPECT_EQ(source.records[5].class_id, info.test_labels[5]);
  EXPECT_EQ(source.records[5].relative_path, "Final_Test/Images/00005.ppm");
  EXPECT_EQ(source.records[5].image, info.test_images[5]);
}

TEST(GtsrbReader, OfficialTestWithSeparateLabelsFile) {
  TempDir tmp;
  FixtureOptions o = small(4);
  o.test_images_per_class = 2;
  o.test_labels_file = tmp / "elsewhere" / "GT-final_test.csv";
  const auto info = testing::write_official_dataset(tmp / "GTSRB", o);
  FindOptions options;
  options.subset = Subset::kTest;
  // Only the label-less GT-final_test.test.csv is beside the images.
  EXPECT_ERROR(find_dataset(tmp / "GTSRB", options), "GT-final_test.test.csv");
  EXPECT_ERROR(find_dataset(tmp / "GTSRB", options), "--labels");

  options.labels_file = o.test_labels_file;
  const DatasetSource source = find_dataset(tmp / "GTSRB", options);
  ASSERT_EQ(source.records.size(), 8u);
  std::set<std::int64_t> tracks;
  for (std::size_t i = 0; i < source.records.size(); ++i) {
    EXPECT_EQ(source.records[i].class_id, info.test_labels[i]);
    EXPECT_EQ(source.records[i].image, info.test_images[i]);
    tracks.insert(source.records[i].track);
  }
  EXPECT_EQ(tracks.size(), 8u);

  // A labels file without ClassId (the .test.csv) is rejected with the same hint.
  options.labels_file = tmp / "GTSRB" / "Final_Test" / "Images" / "GT-final_test.test.csv";
  EXPECT_ERROR(find_dataset(tmp / "GTSRB", options), "has no ClassId column");
  options.labels_file = tmp / "missing.csv";
  EXPECT_ERROR(find_dataset(tmp / "GTSRB", options), "missing.csv: labels file not found");
}

TEST(GtsrbReader, WrongSubsetSaysWhatWasFound) {
  TempDir tmp;
  testing::write_official_dataset(tmp.path(), small(2));
  FindOptions options;
  options.subset = Subset::kTest;
  EXPECT_ERROR(find_dataset(tmp.path(), options), "no GTSRB test set under");
  EXPECT_ERROR(find_dataset(tmp.path(), options), "use --subset train");
}

TEST(GtsrbReader, TestOnlyFolderGivesItsTestSetWhenAllowed) {
  TempDir tmp;
  FixtureOptions o = small(3);
  o.test_images_per_class = 2;
  testing::write_kaggle_dataset(tmp / "kaggle", o);
  std::filesystem::remove(tmp / "kaggle" / "Train.csv");
  testing::write_official_dataset(tmp / "official", o);
  std::filesystem::remove_all(tmp / "official" / "Final_Training");
  for (const auto& dir : {tmp / "kaggle", tmp / "official"}) {
    SCOPED_TRACE(dir.string());
    FindOptions options;  // subset train
    EXPECT_ERROR(find_dataset(dir, options), "use --subset test");
    const DatasetSource source = find_dataset_or_test_set(dir, options);
    EXPECT_EQ(source.subset, Subset::kTest);
    EXPECT_EQ(source.records.size(), 6u);
  }
  // A folder that has a training set keeps it.
  testing::write_kaggle_dataset(tmp / "both", o);
  EXPECT_EQ(find_dataset_or_test_set(tmp / "both", FindOptions{}).subset, Subset::kTrain);
  // A malformed training set is reported as such, not replaced by the test set.
  testing::replace_line(tmp / "both" / "Train.csv", 2, "garbage");
  EXPECT_ERROR(find_dataset_or_test_set(tmp / "both", FindOptions{}), "Train.csv:2");
}

TEST(GtsrbReader, EmptyFolderIsAnError) {
  TempDir tmp;
  fs::create_directories(tmp / "sub" / "dir");
  EXPECT_ERROR(find_dataset(tmp.path()),
               "no GTSRB dataset under " + tmp.path().string() +
                   ": expected Train.csv (Kaggle) or Final_Training/Images/000NN/GT-000NN.csv "
                   "(official)");
  EXPECT_ERROR(find_dataset(tmp / "does-not-exist"), "not a folder");
}

TEST(GtsrbReader, TwoDatasetsAtTheSameDepthAreAmbiguous) {
  TempDir tmp;
  testing::write_kaggle_dataset(tmp / "a", small(2));
  testing::write_kaggle_dataset(tmp / "b", small(2));
  EXPECT_ERROR(find_dataset(tmp.path()), "several GTSRB datasets under");
}

TEST(GtsrbReader, MalformedRowNamesFileAndLine) {
  TempDir tmp;
  testing::write_kaggle_dataset(tmp.path(), small(2));
  testing::replace_line(tmp / "Train.csv", 5, "30,30,5,5");
  EXPECT_ERROR(find_dataset(tmp.path()), "Train.csv:5: expected 8 fields, got 4");
}

TEST(GtsrbReader, NonNumericFieldNamesFileLineAndColumn) {
  TempDir tmp;
  testing::write_kaggle_dataset(tmp.path(), small(2));
  testing::replace_line(tmp / "Train.csv", 4, "30,30,abc,5,20,20,0,Train/0/00000_00000_00002.png");
  EXPECT_ERROR(find_dataset(tmp.path()), "Train.csv:4: Roi.X1 is not an integer: 'abc'");
  testing::replace_line(tmp / "Train.csv", 4, "30,30,5,5,20,20,1.5,Train/0/00000_00000_00002.png");
  EXPECT_ERROR(find_dataset(tmp.path()), "Train.csv:4: ClassId is not an integer: '1.5'");
}

TEST(GtsrbReader, ClassIdOutOfRange) {
  TempDir tmp;
  testing::write_kaggle_dataset(tmp.path(), small(2));
  testing::replace_line(tmp / "Train.csv", 3, "30,30,5,5,20,20,43,Train/0/00000_00000_00001.png");
  EXPECT_ERROR(find_dataset(tmp.path()), "Train.csv:3: ClassId 43 out of range [0, 43)");
  testing::replace_line(tmp / "Train.csv", 3, "30,30,5,5,20,20,-1,Train/0/00000_00000_00001.png");
  EXPECT_ERROR(find_dataset(tmp.path()), "Train.csv:3: ClassId -1 out of range [0, 43)");
}

TEST(GtsrbReader, OfficialErrorsNameTheClassFile) {
  TempDir tmp;
  testing::write_official_dataset(tmp.path(), small(3));
  const fs::path gt = tmp / "Final_Training/Images/00002/GT-00002.csv";
  testing::replace_line(gt, 3, "00000_00001.ppm;30;30;5;5;20;20;99");
  EXPECT_ERROR(find_dataset(tmp.path()),
               "Final_Training/Images/00002/GT-00002.csv:3: ClassId 99 out of range [0, 43)");
  testing::replace_line(gt, 3, "00000_00001.ppm;30;30;5;5;20");
  EXPECT_ERROR(find_dataset(tmp.path()),
               "Final_Training/Images/00002/GT-00002.csv:3: expected 8 fields, got 6");
}

TEST(GtsrbReader, RoiOutsideTheImage) {
  TempDir tmp;
  testing::write_kaggle_dataset(tmp.path(), small(2));
  testing::replace_line(tmp / "Train.csv", 2, "30,26,5,5,35,20,0,Train/0/00000_00000_00000.png");
  EXPECT_ERROR(find_dataset(tmp.path()), "Train.csv:2: ROI (5,5)-(35,20) outside the 30x26 image");
  testing::replace_line(tmp / "Train.csv", 2, "30,26,20,5,10,20,0,Train/0/00000_00000_00000.png");
  EXPECT_ERROR(find_dataset(tmp.path()), "Train.csv:2: ROI (20,5)-(10,20) outside");
}

TEST(GtsrbReader, MissingColumnAndEmptyCsv) {
  TempDir tmp;
  testing::write_text(tmp / "Train.csv", "Width,Height,Roi.X1,Roi.Y1,Roi.X2,Roi.Y2,Path\n"
                                         "30,30,1,1,20,20,Train/0/00000_00000_00000.png\n");
  EXPECT_ERROR(find_dataset(tmp.path()), "Train.csv:1: missing column 'ClassId'");
  testing::write_text(tmp / "Train.csv", "Width,Height,Roi.X1,Roi.Y1,Roi.X2,Roi.Y2,ClassId,Path\n");
  EXPECT_ERROR(find_dataset(tmp.path()), "no images listed");
  testing::write_text(tmp / "Train.csv", "");
  EXPECT_ERROR(find_dataset(tmp.path()), "Train.csv: empty annotation file");
}

TEST(GtsrbReader, UnparsableFileNameForTrack) {
  TempDir tmp;
  testing::write_text(tmp / "Train.csv", "Width,Height,Roi.X1,Roi.Y1,Roi.X2,Roi.Y2,ClassId,Path\n"
                                         "30,30,1,1,20,20,3,Train/3/sign.png\n");
  EXPECT_ERROR(find_dataset(tmp.path()),
               "Train.csv:2: cannot read the track from file name 'Train/3/sign.png'");
}

TEST(GtsrbReader, MissingImagesAreNotCheckedHere) {
  TempDir tmp;
  const auto info = testing::write_kaggle_dataset(tmp.path(), small(2));
  fs::remove(info.train_images[0]);
  EXPECT_EQ(find_dataset(tmp.path()).records.size(), 12u);
}

TEST(GtsrbReader, NamesRoundTrip) {
  EXPECT_EQ(to_string(Layout::kKaggle), "kaggle");
  EXPECT_EQ(to_string(Layout::kOfficial), "official");
  EXPECT_EQ(parse_subset("test"), Subset::kTest);
  EXPECT_EQ(to_string(parse_subset("train")), "train");
  EXPECT_ERROR(parse_subset("validation"), "unknown subset 'validation'");
}

}  // namespace
}  // namespace fedsign::data
