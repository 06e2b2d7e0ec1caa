// Readers for the two public GTSRB layouts.
//
// Official download:  Final_Training/Images/000NN/GT-000NN.csv (';'-separated, PPM images)
//                     Final_Test/Images/*.ppm with labels in GT-final_test.csv (separate download)
// Kaggle mirror:      Train.csv / Test.csv with a Path column, PNG images.
// find_dataset() detects the layout from any folder of the unpacked download (searching down).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace fedsign::data {

enum class Layout { kOfficial, kKaggle };
enum class Subset { kTrain, kTest };

struct Roi {
  int x1 = 0, y1 = 0, x2 = 0, y2 = 0;  // inclusive pixel coordinates as in the GTSRB CSVs
};

// One annotated image, as listed in an annotation CSV.
struct SampleRecord {
  std::filesystem::path image;  // absolute path
  std::string relative_path;    // path relative to the dataset root (for reports)
  int width = 0, height = 0;
  Roi roi;
  int class_id = 0;
  std::int64_t track = -1;      // unique per physical sign; test images get one each
  std::string annotation_file;  // CSV the record came from
  int line = 0;                 // 1-based line in that CSV
};

struct DatasetSource {
  Layout layout = Layout::kKaggle;
  Subset subset = Subset::kTrain;
  std::filesystem::path root;  // folder paths are relative to
  std::vector<std::filesystem::path> annotation_files;
  std::vector<SampleRecord> records;
};

struct FindOptions {
  Subset subset = Subset::kTrain;
  std::optional<std::filesystem::path> labels_file;  // e.g. GT-final_test.csv if not beside images
  int num_classes = 43;
};

// Detects the layout under `dir` and parses its annotations. Throws fedsign::Error naming the
// file and line of a malformed row, an out-of-range class id, or an empty folder.
DatasetSource find_dataset(const std::filesystem::path& dir, const FindOptions& options = {});

std::string to_string(Layout layout);  // "kaggle" | "official"
std::string to_string(Subset subset);  // "train" | "test"
Subset parse_subset(const std::string& name);  // inverse of to_string; throws on other names

}  // namespace fedsign::data
