// Decodes, crops (ROI), normalizes contrast and resizes the images of a DatasetSource into an
// ImageSet, in parallel, and caches the result in a compact file keyed by a checksum of the source.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "fedsign/data/gtsrb_reader.h"
#include "fedsign/data/image_set.h"

namespace fedsign::data {

enum class Contrast { kNone, kEqualize, kClahe };  // applied to luminance only
enum class OnBadImage { kAbort, kSkip };

Contrast parse_contrast(const std::string& name);  // "none" | "equalize" | "clahe"
std::string to_string(Contrast contrast);
OnBadImage parse_on_bad_image(const std::string& name);  // "abort" | "skip"
std::string to_string(OnBadImage on_bad_image);

struct LoadOptions {
  int size = 32;                    // output is size x size
  bool crop_roi = true;
  Contrast contrast = Contrast::kNone;
  OnBadImage on_bad_image = OnBadImage::kAbort;
  int threads = 0;                  // 0: hardware concurrency
  bool progress = true;
  std::filesystem::path cache_dir;  // empty: no cache
};

struct LoadReport {
  std::size_t loaded = 0;
  std::size_t skipped = 0;   // unreadable images skipped under OnBadImage::kSkip
  bool from_cache = false;
  double seconds = 0.0;
  std::filesystem::path cache_file;
  std::vector<std::string> problems;  // one message per skipped image ("path (csv:line): why")
};

// Throws fedsign::Error naming the image (and its CSV line) that is missing or corrupt,
// unless on_bad_image == kSkip.
ImageSet load_images(const DatasetSource& source, const LoadOptions& options,
                     LoadReport* report = nullptr);

// Checksum of everything the decoded result depends on: annotation rows, image file sizes and
// modification times, and the load options that change pixels.
std::uint64_t source_checksum(const DatasetSource& source, const LoadOptions& options);

// Decodes one image file exactly as load_images does (crop to `roi` when given and
// options.crop_roi, resize, contrast) into options.size^2 * 3 RGB bytes at `out`. Returns an
// empty string on success, else why it failed ("image file not found", "cannot decode image").
// For single images outside a dataset (e.g. prediction).
std::string decode_image(const std::filesystem::path& file, const Roi* roi,
                         const LoadOptions& options, std::uint8_t* out);

// cache_dir / "gtsrb-<16 hex digits of checksum>.fsc"
std::filesystem::path cache_path(const std::filesystem::path& cache_dir, std::uint64_t checksum);

// Cache file I/O (exposed for tests). read_cache returns false if the file is missing, from
// another source (checksum differs) or truncated/corrupt; it never throws for those, and leaves
// *set unchanged then. `skipped` records how many source images were dropped under kSkip.
void write_cache(const std::filesystem::path& file, const ImageSet& set, std::uint64_t checksum,
                 std::size_t skipped = 0);
bool read_cache(const std::filesystem::path& file, std::uint64_t checksum, ImageSet* set,
                std::size_t* skipped = nullptr);

}  // namespace fedsign::data
