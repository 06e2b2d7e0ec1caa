// Decodes, crops (ROI), normalizes contrast and resizes the images of a DatasetSource into an
// ImageSet, in parallel, and caches the result in a compact file keyed by a checksum of the source.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "fedsign/data/gtsrb_reader.h"
#include "fedsign/data/image_set.h"

namespace fedsign::data {

enum class Contrast { kNone, kEqualize, kClahe };  // applied to luminance only
enum class OnBadImage { kAbort, kSkip };

Contrast parse_contrast(const std::string& name);  // "none" | "equalize" | "clahe"
std::string to_string(Contrast contrast);

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
};

// Throws fedsign::Error naming the image (and its CSV line) that is missing or corrupt,
// unless on_bad_image == kSkip.
ImageSet load_images(const DatasetSource& source, const LoadOptions& options,
                     LoadReport* report = nullptr);

// Checksum of everything the decoded result depends on: annotation rows, image file sizes and
// modification times, and the load options that change pixels.
std::uint64_t source_checksum(const DatasetSource& source, const LoadOptions& options);

// Cache file I/O (exposed for tests). read_cache returns false if the file is missing, from
// another source (checksum differs) or truncated/corrupt; it never throws for those.
void write_cache(const std::filesystem::path& file, const ImageSet& set, std::uint64_t checksum);
bool read_cache(const std::filesystem::path& file, std::uint64_t checksum, ImageSet* set);

}  // namespace fedsign::data
