// find_dataset(): breadth-first search for a GTSRB layout below a folder, then parsing of its
// annotation CSVs into SampleRecords (validated; image files are not opened here).
#include "fedsign/data/gtsrb_reader.h"
#include "fedsign/data/test_set_fallback.h"

#include <algorithm>
#include <cctype>
#include <deque>
#include <set>

#include "fedsign/core/check.h"
#include "fedsign/data/csv_parser.h"

namespace fedsign::data {
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kTrackStride = 100000;        // track id = class * stride + track number
constexpr std::int64_t kTestTrackBase = 1000000000;  // test images: base + row index
constexpr const char* kTestLabels = "GT-final_test.csv";
constexpr const char* kTestNoLabels = "GT-final_test.test.csv";

// A place where a dataset of the requested kind was found.
struct Candidate {
  Layout layout;
  Subset subset;
  fs::path location;  // Kaggle: folder with Train.csv/Test.csv; official: the Images folder
};

bool all_digits(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit((unsigned char)c); });
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

std::string subset_name(Subset s) { return s == Subset::kTrain ? "train" : "test"; }

// Looks at one folder (no recursion) for every layout/subset; appends what it finds and the
// subfolders to visit next.
void scan_folder(const fs::path& dir, std::vector<Candidate>* found, std::vector<fs::path>* subdirs) {
  if (is_file(dir / "Train.csv")) found->push_back({Layout::kKaggle, Subset::kTrain, dir});
  if (is_file(dir / "Test.csv")) found->push_back({Layout::kKaggle, Subset::kTest, dir});

  bool official_train = false, has_ppm = false;
  std::error_code ec;
  for (fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
       !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!it->is_directory(ec)) {
      has_ppm = has_ppm || it->path().extension() == ".ppm";
      continue;
    }
    if (name.empty() || name[0] == '.') continue;
    if (name.size() == 5 && all_digits(name) && is_file(it->path() / ("GT-" + name + ".csv"))) {
      official_train = true;
      continue;  // a class folder: images only, nothing to find below
    }
    subdirs->push_back(it->path());
  }
  if (official_train) found->push_back({Layout::kOfficial, Subset::kTrain, dir});
  // Official test images: Final_Test/Images, or any folder of PPMs with a GT-final_test*.csv.
  // (GT-final_test.csv alone is the separately downloaded labels file, often unpacked elsewhere.)
  const bool test_folder =
      dir.filename() == "Images" && dir.parent_path().filename() == "Final_Test";
  const bool test_csv = is_file(dir / kTestNoLabels) || (has_ppm && is_file(dir / kTestLabels));
  if (test_folder || test_csv) found->push_back({Layout::kOfficial, Subset::kTest, dir});
}

std::string describe(const Candidate& c) {
  return fmt::format("{} {} set in {}", to_string(c.layout), subset_name(c.subset),
                     c.location.string());
}

// Breadth-first: the shallowest match wins; two matches at the same depth are ambiguous.
Candidate locate(const fs::path& dir, Subset subset, bool test_if_only_test) {
  std::error_code ec;
  FEDSIGN_CHECK(fs::is_directory(dir, ec), "{}: not a folder", dir.string());
  std::vector<fs::path> level{dir};
  std::set<fs::path> visited;
  std::vector<Candidate> other_subset;
  while (!level.empty()) {
    std::vector<Candidate> found;
    std::vector<fs::path> next;
    for (const fs::path& d : level) {
      const fs::path canonical = fs::weakly_canonical(d, ec);
      if (!visited.insert(ec ? d : canonical).second) continue;  // symlink loops
      scan_folder(d, &found, &next);
    }
    std::vector<Candidate> wanted;
    for (const auto& c : found) (c.subset == subset ? wanted : other_subset).push_back(c);
    if (wanted.size() == 1) return wanted.front();
    if (wanted.size() > 1) {
      std::string list;
      for (const auto& c : wanted) list += (list.empty() ? "" : "; ") + describe(c);
      FEDSIGN_FAIL("several GTSRB datasets under {}: {}; pass one of these folders", dir.string(),
                   list);
    }
    std::sort(next.begin(), next.end());
    level = std::move(next);
  }
  if (subset == Subset::kTrain && test_if_only_test && other_subset.size() == 1) {
    return other_subset.front();
  }
  std::string hint;
  if (!other_subset.empty()) {
    hint = fmt::format(" (found a {}; use --subset {})", describe(other_subset.front()),
                       subset_name(other_subset.front().subset));
  }
  if (subset == Subset::kTrain) {
    FEDSIGN_FAIL(
        "no GTSRB dataset under {}: expected Train.csv (Kaggle) or "
        "Final_Training/Images/000NN/GT-000NN.csv (official){}",
        dir.string(), hint);
  }
  FEDSIGN_FAIL(
      "no GTSRB test set under {}: expected Test.csv (Kaggle) or Final_Test/Images with "
      "GT-final_test.csv (official){}",
      dir.string(), hint);
}

// Path for messages: relative to the dataset root when inside it.
std::string display_path(const fs::path& file, const fs::path& root) {
  const fs::path rel = file.lexically_relative(root);
  if (!rel.empty() && *rel.begin() != "..") return rel.generic_string();
  return file.string();
}

// Column indices shared by both layouts (the path column differs: Path vs Filename).
struct Columns {
  int width, height, x1, y1, x2, y2, class_id, path;
  Columns(const CsvFile& csv, const char* path_column)
      : width(csv.column("Width")),
        height(csv.column("Height")),
        x1(csv.column("Roi.X1")),
        y1(csv.column("Roi.Y1")),
        x2(csv.column("Roi.X2")),
        y2(csv.column("Roi.Y2")),
        class_id(csv.column("ClassId")),
        path(csv.column(path_column)) {}
};

// Parses and validates the numeric fields of one row; image/track are filled by the caller.
SampleRecord parse_row(const CsvFile& csv, const CsvRow& row, const Columns& c, int num_classes) {
  SampleRecord r;
  r.width = csv.int_field(row, c.width);
  r.height = csv.int_field(row, c.height);
  r.roi = {csv.int_field(row, c.x1), csv.int_field(row, c.y1), csv.int_field(row, c.x2),
           csv.int_field(row, c.y2)};
  r.class_id = csv.int_field(row, c.class_id);
  r.annotation_file = csv.display_name();
  r.line = row.line;
  FEDSIGN_CHECK(r.width > 0 && r.height > 0, "{}: image size {}x{} is not positive",
                csv.where(row), r.width, r.height);
  FEDSIGN_CHECK(r.class_id >= 0 && r.class_id < num_classes, "{}: ClassId {} out of range [0, {})",
                csv.where(row), r.class_id, num_classes);
  // x2/y2 are inclusive; x2 == width is tolerated (the loader clamps to the image).
  const Roi& roi = r.roi;
  FEDSIGN_CHECK(roi.x1 >= 0 && roi.y1 >= 0 && roi.x1 <= roi.x2 && roi.y1 <= roi.y2 &&
                    roi.x2 <= r.width && roi.y2 <= r.height,
                "{}: ROI ({},{})-({},{}) outside the {}x{} image", csv.where(row), roi.x1, roi.y1,
                roi.x2, roi.y2, r.width, r.height);
  const std::string& path = csv.text_field(row, c.path);
  FEDSIGN_CHECK(!path.empty(), "{}: empty {}", csv.where(row), csv.header().at(c.path));
  return r;
}

// Track number from a file name: `field` of the '_'-separated digit groups of the stem.
std::int64_t track_from_name(const CsvFile& csv, const CsvRow& row, const std::string& path,
                             std::size_t fields, std::size_t field, const char* pattern) {
  const std::string stem = fs::path(path).stem().string();
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = stem.find('_', start);
    parts.push_back(stem.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  const bool ok = parts.size() == fields && std::all_of(parts.begin(), parts.end(), all_digits) &&
                  parts[field].size() <= 5;
  FEDSIGN_CHECK(ok, "{}: cannot read the track from file name '{}' (expected {})", csv.where(row),
                path, pattern);
  return std::stoll(parts[field]);
}

void add_kaggle(const Candidate& c, const FindOptions& options, DatasetSource* out) {
  FEDSIGN_CHECK(!options.labels_file, "--labels is only used with the official test layout ({})",
                describe(c));
  out->root = c.location;
  const fs::path file = c.location / (c.subset == Subset::kTrain ? "Train.csv" : "Test.csv");
  out->annotation_files.push_back(file);
  const CsvFile csv = CsvFile::read(file, file.filename().string());
  const Columns columns(csv, "Path");
  std::int64_t index = 0;
  for (const CsvRow& row : csv.rows()) {
    SampleRecord r = parse_row(csv, row, columns, options.num_classes);
    r.relative_path = fs::path(csv.text_field(row, columns.path)).generic_string();
    r.image = out->root / r.relative_path;
    r.track = c.subset == Subset::kTest
                  ? kTestTrackBase + index
                  : r.class_id * kTrackStride +
                        track_from_name(csv, row, r.relative_path, 3, 1, "CCCCC_TTTTT_FFFFF.png");
    out->records.push_back(std::move(r));
    ++index;
  }
}

// Final_Training/Images and Final_Test/Images are reported relative to the download root.
fs::path official_root(const fs::path& images) {
  const std::string parent = images.parent_path().filename().string();
  if (images.filename() == "Images" && (parent == "Final_Training" || parent == "Final_Test")) {
    return images.parent_path().parent_path();
  }
  return images;
}

void add_official_train(const Candidate& c, const FindOptions& options, DatasetSource* out) {
  FEDSIGN_CHECK(!options.labels_file, "--labels is only used with the official test layout ({})",
                describe(c));
  out->root = official_root(c.location);
  std::vector<fs::path> class_files;
  for (const auto& entry : fs::directory_iterator(c.location)) {
    const std::string name = entry.path().filename().string();
    const fs::path gt = entry.path() / ("GT-" + name + ".csv");
    if (name.size() == 5 && all_digits(name) && entry.is_directory() && is_file(gt)) {
      class_files.push_back(gt);
    }
  }
  std::sort(class_files.begin(), class_files.end());
  for (const fs::path& file : class_files) {
    out->annotation_files.push_back(file);
    const CsvFile csv = CsvFile::read(file, display_path(file, out->root));
    const Columns columns(csv, "Filename");
    for (const CsvRow& row : csv.rows()) {
      SampleRecord r = parse_row(csv, row, columns, options.num_classes);
      const std::string& name = csv.text_field(row, columns.path);
      r.image = file.parent_path() / name;
      r.relative_path = display_path(r.image, out->root);
      r.track = r.class_id * kTrackStride +
                track_from_name(csv, row, name, 2, 0, "TTTTT_FFFFF.ppm");
      out->records.push_back(std::move(r));
    }
  }
}

// The official test labels are a separate download: --labels, beside the images, or anywhere
// below the folder the user gave.
fs::path find_test_labels(const fs::path& dir, const fs::path& images, const FindOptions& options) {
  if (options.labels_file) {
    FEDSIGN_CHECK(is_file(*options.labels_file), "{}: labels file not found",
                  options.labels_file->string());
    return *options.labels_file;
  }
  if (is_file(images / kTestLabels)) return images / kTestLabels;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec),
       end;
       !ec && it != end; it.increment(ec)) {
    if (it->path().filename() == kTestLabels && it->is_regular_file(ec)) return it->path();
  }
  if (is_file(images / kTestNoLabels)) {
    FEDSIGN_FAIL(
        "{}: has no ClassId column; the official test labels are a separate download "
        "(GT-final_test.csv): pass it with --labels FILE",
        display_path(images / kTestNoLabels, official_root(images)));
  }
  FEDSIGN_FAIL("{}: no test labels found; pass GT-final_test.csv with --labels FILE",
               images.string());
}

void add_official_test(const fs::path& dir, const Candidate& c, const FindOptions& options,
                       DatasetSource* out) {
  out->root = official_root(c.location);
  const fs::path file = find_test_labels(dir, c.location, options);
  out->annotation_files.push_back(file);
  const CsvFile csv = CsvFile::read(file, display_path(file, out->root));
  if (!csv.has_column("ClassId")) {
    FEDSIGN_FAIL(
        "{}: has no ClassId column; the official test labels are a separate download "
        "(GT-final_test.csv): pass it with --labels FILE",
        csv.display_name());
  }
  const Columns columns(csv, "Filename");
  std::int64_t index = 0;
  for (const CsvRow& row : csv.rows()) {
    SampleRecord r = parse_row(csv, row, columns, options.num_classes);
    r.image = c.location / csv.text_field(row, columns.path);
    r.relative_path = display_path(r.image, out->root);
    r.track = kTestTrackBase + index++;
    out->records.push_back(std::move(r));
  }
}

// find_dataset(), optionally taking a lone test set when no training set is there.
DatasetSource find_dataset_impl(const fs::path& dir, const FindOptions& options,
                                bool test_if_only_test) {
  FEDSIGN_CHECK(options.num_classes > 0, "num_classes must be positive, got {}",
                options.num_classes);
  fs::path start = dir.empty() ? fs::path(".") : dir.lexically_normal();
  if (!start.has_filename() && start.has_relative_path()) start = start.parent_path();  // "a/b/"
  const Candidate c = locate(start, options.subset, test_if_only_test);
  DatasetSource source;
  source.layout = c.layout;
  source.subset = c.subset;
  if (c.layout == Layout::kKaggle) {
    add_kaggle(c, options, &source);
  } else if (c.subset == Subset::kTrain) {
    add_official_train(c, options, &source);
  } else {
    add_official_test(start, c, options, &source);
  }
  FEDSIGN_CHECK(!source.records.empty(), "{}: no images listed in {}", start.string(),
                source.annotation_files.empty() ? std::string("annotation files")
                                                : source.annotation_files.front().string());
  return source;
}

}  // namespace

DatasetSource find_dataset(const fs::path& dir, const FindOptions& options) {
  return find_dataset_impl(dir, options, false);
}

DatasetSource find_dataset_or_test_set(const fs::path& dir, const FindOptions& options) {
  return find_dataset_impl(dir, options, true);
}

std::string to_string(Layout layout) { return layout == Layout::kKaggle ? "kaggle" : "official"; }

std::string to_string(Subset subset) { return subset_name(subset); }

Subset parse_subset(const std::string& name) {
  if (name == "train") return Subset::kTrain;
  if (name == "test") return Subset::kTest;
  FEDSIGN_FAIL("unknown subset '{}' (expected train or test)", name);
}

}  // namespace fedsign::data
