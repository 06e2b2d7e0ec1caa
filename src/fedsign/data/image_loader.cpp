// Parallel decoding of a DatasetSource into an ImageSet: read file -> decode (OpenCV) -> RGB ->
// crop ROI -> resize -> luminance contrast normalization. Results keep record order whatever the
// thread count; with a cache_dir the result is cached (see image_cache.cpp).
#include "fedsign/data/image_loader.h"
#include "fedsign/data/image_bytes.h"
#include "fedsign/data/prepare.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <limits>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <thread>

#include "fedsign/core/check.h"
#include "fedsign/core/progress.h"

namespace fedsign::data {
namespace fs = std::filesystem;

namespace {

constexpr int kMaxSize = 4096;

// OpenCV's own thread pool would oversubscribe the cores next to our workers; disable it for
// the duration of a load and restore the previous setting afterwards.
class OpenCvSingleThreaded {
 public:
  OpenCvSingleThreaded() : previous_(cv::getNumThreads()) { cv::setNumThreads(1); }
  ~OpenCvSingleThreaded() { cv::setNumThreads(previous_); }
  OpenCvSingleThreaded(const OpenCvSingleThreaded&) = delete;
  OpenCvSingleThreaded& operator=(const OpenCvSingleThreaded&) = delete;

 private:
  int previous_;
};

bool read_file(const fs::path& file, std::vector<std::uint8_t>* bytes) {
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in) return false;
  const std::streamsize size = in.tellg();
  if (size < 0) return false;
  bytes->resize(static_cast<std::size_t>(size));
  in.seekg(0);
  return static_cast<bool>(in.read(reinterpret_cast<char*>(bytes->data()), size));
}

// The part shared by files and in-memory images (e.g. an HTTP request body).
std::string decode_bytes_into(const std::uint8_t* bytes, std::size_t size, const Roi* roi,
                              const LoadOptions& options, std::uint8_t* out) {
  if (size == 0) return "cannot decode image (empty file)";
  // imdecode wants a Mat; this one wraps the caller's bytes without copying them.
  const cv::Mat encoded(1, static_cast<int>(size), CV_8UC1, const_cast<std::uint8_t*>(bytes));
  cv::Mat bgr = cv::imdecode(encoded, cv::IMREAD_COLOR);
  if (bgr.empty()) return "cannot decode image";
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  if (roi && options.crop_roi) {
    // GTSRB ROIs are inclusive; clamp to the decoded image, keep it whole if nothing is left.
    const cv::Rect rect =
        cv::Rect(roi->x1, roi->y1, roi->x2 - roi->x1 + 1, roi->y2 - roi->y1 + 1) &
        cv::Rect(0, 0, rgb.cols, rgb.rows);
    if (rect.area() > 0) rgb = rgb(rect);
  }
  prepare_crop(rgb, options.size, options.contrast, out);
  return {};
}

std::string decode_into(const fs::path& file, const Roi* roi, const LoadOptions& options,
                        std::uint8_t* out) {
  std::vector<std::uint8_t> bytes;
  if (!read_file(file, &bytes)) {
    std::error_code ec;
    return fs::exists(file, ec) ? "cannot read image file" : "image file not found";
  }
  return decode_bytes_into(bytes.data(), bytes.size(), roi, options, out);
}

// Runs a decode, turning OpenCV's (and allocation) exceptions into the returned reason.
template <typename Decode>
std::string without_throwing(Decode decode) {
  try {
    return decode();
  } catch (const cv::Exception& e) {
    return fmt::format("cannot decode image ({})", e.err);
  } catch (const std::exception& e) {
    return fmt::format("cannot decode image ({})", e.what());
  }
}

std::string decode_safely(const fs::path& file, const Roi* roi, const LoadOptions& options,
                          std::uint8_t* out) {
  return without_throwing([&] { return decode_into(file, roi, options, out); });
}

std::string describe(const SampleRecord& r, const std::string& why) {
  return fmt::format("{} ({}:{}): {}", r.relative_path, r.annotation_file, r.line, why);
}

int worker_count(const LoadOptions& options, std::size_t n) {
  int threads = options.threads > 0 ? options.threads
                                    : static_cast<int>(std::thread::hardware_concurrency());
  threads = std::max(threads, 1);
  return static_cast<int>(std::min<std::size_t>(threads, std::max<std::size_t>(n, 1)));
}

// Decodes every record into its slot of `set.pixels`; returns per-record error messages
// (empty = decoded). Under kAbort, throws the error of the first bad record.
std::vector<std::string> decode_all(const DatasetSource& source, const LoadOptions& options,
                                    ImageSet* set) {
  const std::size_t n = source.records.size();
  std::vector<std::string> errors(n);
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  ProgressBar progress("decode", n, options.progress);
  auto work = [&] {
    while (!stop.load(std::memory_order_relaxed)) {
      const std::size_t i = next.fetch_add(1);
      if (i >= n) break;
      const SampleRecord& r = source.records[i];
      std::string why = decode_safely(r.image, &r.roi, options, set->image(i));
      if (!why.empty()) {
        errors[i] = describe(r, why);
        if (options.on_bad_image == OnBadImage::kAbort) stop = true;
      }
      progress.advance();
    }
  };
  const int threads = worker_count(options, n);
  {
    OpenCvSingleThreaded single_threaded_opencv;
    if (threads == 1) {
      work();
    } else {
      std::vector<std::jthread> pool;
      for (int t = 0; t < threads; ++t) pool.emplace_back(work);
    }
  }
  progress.finish();
  if (options.on_bad_image == OnBadImage::kAbort) {
    // Workers claim indices in order and finish what they claimed, so the first error is
    // the same for any thread count.
    for (const std::string& e : errors) {
      if (!e.empty()) throw Error(e);
    }
  }
  return errors;
}

}  // namespace

Contrast parse_contrast(const std::string& name) {
  if (name == "none") return Contrast::kNone;
  if (name == "equalize") return Contrast::kEqualize;
  if (name == "clahe") return Contrast::kClahe;
  FEDSIGN_FAIL("unknown contrast '{}' (expected none, equalize or clahe)", name);
}

std::string to_string(Contrast contrast) {
  switch (contrast) {
    case Contrast::kNone: return "none";
    case Contrast::kEqualize: return "equalize";
    case Contrast::kClahe: return "clahe";
  }
  return "none";
}

OnBadImage parse_on_bad_image(const std::string& name) {
  if (name == "abort") return OnBadImage::kAbort;
  if (name == "skip") return OnBadImage::kSkip;
  FEDSIGN_FAIL("unknown on-bad-image policy '{}' (expected abort or skip)", name);
}

std::string to_string(OnBadImage on_bad_image) {
  return on_bad_image == OnBadImage::kSkip ? "skip" : "abort";
}

std::string decode_image(const fs::path& file, const Roi* roi, const LoadOptions& options,
                         std::uint8_t* out) {
  FEDSIGN_CHECK(options.size > 0 && options.size <= kMaxSize, "image size must be in [1, {}], got {}",
                kMaxSize, options.size);
  return decode_safely(file, roi, options, out);
}

std::string decode_image_bytes(const std::uint8_t* bytes, std::size_t size, const Roi* roi,
                               const LoadOptions& options, std::uint8_t* out) {
  FEDSIGN_CHECK(options.size > 0 && options.size <= kMaxSize, "image size must be in [1, {}], got {}",
                kMaxSize, options.size);
  if (size > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return "cannot decode image (larger than 2 GiB)";
  }
  return without_throwing([&] { return decode_bytes_into(bytes, size, roi, options, out); });
}

ImageSet load_images(const DatasetSource& source, const LoadOptions& options, LoadReport* report) {
  FEDSIGN_CHECK(options.size > 0 && options.size <= kMaxSize, "image size must be in [1, {}], got {}",
                kMaxSize, options.size);
  const auto start = std::chrono::steady_clock::now();
  LoadReport local;
  LoadReport& rep = report ? *report : local;
  rep = LoadReport{};
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };

  std::uint64_t checksum = 0;
  if (!options.cache_dir.empty()) {
    checksum = source_checksum(source, options);
    rep.cache_file = cache_path(options.cache_dir, checksum);
    ImageSet cached;
    std::size_t skipped = 0;
    // A cache written under kSkip that dropped images must not satisfy a kAbort load: decode
    // again so the bad image is reported.
    if (read_cache(rep.cache_file, checksum, &cached, &skipped) &&
        (skipped == 0 || options.on_bad_image == OnBadImage::kSkip)) {
      rep.from_cache = true;
      rep.loaded = cached.size();
      rep.skipped = skipped;
      rep.seconds = elapsed();
      return cached;
    }
    std::error_code ec;
    fs::create_directories(options.cache_dir, ec);
    FEDSIGN_CHECK(!ec, "{}: cannot create cache folder: {}", options.cache_dir.string(),
                  ec.message());
  }

  const std::size_t n = source.records.size();
  ImageSet decoded;
  decoded.height = decoded.width = options.size;
  decoded.pixels.resize(n * decoded.image_bytes());
  const std::vector<std::string> errors = decode_all(source, options, &decoded);

  // Assemble in record order, dropping skipped images.
  ImageSet set;
  set.height = set.width = options.size;
  const std::size_t bytes = set.image_bytes();
  std::size_t kept = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const SampleRecord& r = source.records[i];
    if (!errors[i].empty()) {
      rep.problems.push_back(errors[i]);
      continue;
    }
    if (kept != i) std::memcpy(decoded.image(kept), decoded.image(i), bytes);
    set.labels.push_back(r.class_id);
    set.tracks.push_back(r.track);
    set.paths.push_back(r.relative_path);
    ++kept;
  }
  decoded.pixels.resize(kept * bytes);
  set.pixels = std::move(decoded.pixels);
  rep.loaded = kept;
  rep.skipped = rep.problems.size();
  constexpr std::size_t kShown = 10;
  for (std::size_t i = 0; i < std::min(kShown, rep.problems.size()); ++i) {
    spdlog::warn("skipped {}", rep.problems[i]);
  }
  if (rep.problems.size() > kShown) {
    spdlog::warn("skipped {} more unreadable images", rep.problems.size() - kShown);
  }

  if (!options.cache_dir.empty()) write_cache(rep.cache_file, set, checksum, rep.skipped);
  rep.seconds = elapsed();
  return set;
}

}  // namespace fedsign::data
