// Small generated GTSRB-like datasets for tests, in both layouts (Kaggle and official), plus
// helpers that damage files for bad-input tests.
//
// The images are learnable: class c is a sign of shape c % 4 (filled circle, triangle, square,
// ring), with a white bar across it if c / 4 is odd, in one of ceil(num_classes / 8) evenly
// spread hues (c / 8), on a dull per-track background, with per-frame shift, scale, brightness
// and pixel noise. A nearest-class-mean classifier on raw pixels already beats chance by far
// (tests/data/gtsrb_fixture_test.cpp), so a small CNN learns them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace fedsign::testing {

struct FixtureOptions {
  int num_classes = 43;
  int tracks_per_class = 2;
  int frames_per_track = 3;
  int min_side = 30;  // image width/height drawn uniformly from [min_side, max_side]
  int max_side = 40;
  int test_images_per_class = 0;  // > 0: also write a test set
  bool crlf = false;              // CRLF line endings in the CSVs (the real Kaggle files have them)
  std::uint64_t seed = 1;
  // Official layout only: where GT-final_test.csv (test labels) goes; empty = beside the
  // Final_Test/Images folder's parent, i.e. dir/GT-final_test.csv as the GT zip unpacks.
  std::filesystem::path test_labels_file;
};

struct FixtureInfo {
  std::filesystem::path root;  // the folder find_dataset() reports as DatasetSource::root
  std::vector<std::filesystem::path> annotation_files;  // training CSVs
  std::vector<std::filesystem::path> train_images;      // in annotation order
  std::vector<int> train_labels;
  std::vector<std::filesystem::path> test_images;       // in annotation order
  std::vector<int> test_labels;
  std::filesystem::path test_annotation_file;           // Test.csv or GT-final_test.csv
};

// dir/Train.csv + dir/Train/<c>/CCCCC_TTTTT_FFFFF.png (+ dir/Test.csv, dir/Test/NNNNN.png).
FixtureInfo write_kaggle_dataset(const std::filesystem::path& dir, const FixtureOptions& options = {});

// dir/Final_Training/Images/000NN/{GT-000NN.csv, TTTTT_FFFFF.ppm}
// (+ dir/Final_Test/Images/{NNNNN.ppm, GT-final_test.test.csv} and the labels file).
FixtureInfo write_official_dataset(const std::filesystem::path& dir,
                                   const FixtureOptions& options = {});

// Bad-input helpers.
void write_garbage(const std::filesystem::path& file, std::size_t bytes = 200);  // random bytes
void truncate_file(const std::filesystem::path& file, double keep_fraction = 0.5);
std::string read_text(const std::filesystem::path& file);
void write_text(const std::filesystem::path& file, const std::string& text);
// Replaces 1-based line `line` of a text file (keeps a CRLF ending if the line had one).
void replace_line(const std::filesystem::path& file, int line, const std::string& text);
// Sets the modification time `seconds` later than it is (like `touch` without sleeping).
void bump_mtime(const std::filesystem::path& file, int seconds = 10);

// dir/Meta/<c>.png for c < classes: RGBA pictograms shaped like the fixture's signs (filled
// circle, triangle, square, ring by c % 4, white bar if c / 4 is odd, hue by c / 8), so renders
// of them resemble the generated "real" images. Returns dir/Meta.
std::filesystem::path write_fixture_pictograms(const std::filesystem::path& dir, int classes);

// The embedded sample (data/sample in the source tree, Kaggle layout, 516 real images).
std::filesystem::path sample_data_dir();

}  // namespace fedsign::testing
