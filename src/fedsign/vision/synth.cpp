#include "fedsign/vision/synth.h"

#include <fmt/format.h>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <mutex>
#include <thread>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/core/progress.h"

namespace fedsign::vision {
namespace fs = std::filesystem;

namespace {

constexpr int kSupersample = 2;
constexpr int kMaxDraws = 50;

double uniform(std::mt19937_64& rng, double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}
bool chance(std::mt19937_64& rng, double p) { return uniform(rng, 0, 1) < p; }

uint64_t mix(uint64_t x) {  // splitmix64 finalizer
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t sample_seed(uint64_t seed, int class_id, int index, int attempt) {
  return mix(mix(mix(mix(seed) ^ static_cast<uint64_t>(class_id)) ^ static_cast<uint64_t>(index)) ^
             static_cast<uint64_t>(attempt));
}

int margin_pixels(float fraction, int sign_size) {
  return std::max(5, static_cast<int>(std::lround(fraction * sign_size)));
}

// Multiplies `image` (CV_32FC3) by a per-pixel factor map (CV_32F).
void multiply_map(cv::Mat& image, const cv::Mat& factor) {
  cv::Mat f3;
  cv::cvtColor(factor, f3, cv::COLOR_GRAY2BGR);
  cv::multiply(image, f3, image);
}

cv::Mat linear_ramp(cv::Size size, double angle, double lo, double hi) {
  cv::Mat t(size, CV_32F);
  const double c = std::cos(angle), s = std::sin(angle);
  const double half = 0.5 * std::hypot(size.width, size.height);
  for (int y = 0; y < size.height; ++y) {
    float* row = t.ptr<float>(y);
    for (int x = 0; x < size.width; ++x) {
      const double u = 0.5 + 0.5 * (c * (x - size.width / 2.0) + s * (y - size.height / 2.0)) / half;
      row[x] = static_cast<float>(lo + (hi - lo) * u);
    }
  }
  return t;
}

}  // namespace

SynthParams draw_params(const SynthOptions& o, std::mt19937_64& rng) {
  SynthParams p;
  const double lo = std::log(std::max(4, o.min_sign_size));
  const double hi = std::log(std::max(o.min_sign_size, o.max_sign_size));
  p.sign_size = static_cast<int>(std::lround(std::exp(uniform(rng, lo, hi))));
  p.rotate_degrees = static_cast<float>(uniform(rng, -1, 1) * o.max_rotate_degrees);
  p.yaw = static_cast<float>(uniform(rng, -1, 1) * o.max_slant);
  p.pitch = static_cast<float>(uniform(rng, -1, 1) * o.max_slant * 0.5);
  p.offset_x = static_cast<float>(uniform(rng, -1, 1) * o.max_offset);
  p.offset_y = static_cast<float>(uniform(rng, -1, 1) * o.max_offset);
  p.margin_left = static_cast<float>(o.margin * uniform(rng, 0.8, 1.2));
  p.margin_right = static_cast<float>(o.margin * uniform(rng, 0.8, 1.2));
  p.margin_top = static_cast<float>(o.margin * uniform(rng, 0.8, 1.2));
  p.margin_bottom = static_cast<float>(o.margin * uniform(rng, 0.8, 1.2));
  p.appearance = random_appearance(rng);
  p.appearance.fade *= o.appearance_strength;
  p.appearance.dirt *= o.appearance_strength;
  p.appearance.color_temperature *= o.appearance_strength;
  // Blur: most samples slightly soft (as GTSRB's small crops are), few strongly.
  p.gaussian_blur = std::pow(uniform(rng, 0, 1), 1.5) * o.max_gaussian_blur;
  if (chance(rng, o.motion_blur_probability)) {
    p.motion_blur = uniform(rng, 1.0, std::max(1.0, o.max_motion_blur));
    p.motion_angle = uniform(rng, 0, 180);
  }
  // Brightness skewed towards dark, like GTSRB (many dusk and shade images).
  p.brightness = std::max(0.2, 1.0 + o.brightness * uniform(rng, -1.4, 1.0));
  p.contrast = std::max(0.3, 1.0 + o.contrast * uniform(rng, -1, 1));
  p.noise = uniform(rng, 0, o.noise);
  if (chance(rng, o.jpeg_probability)) {
    p.jpeg_quality = static_cast<int>(uniform(rng, o.min_jpeg_quality, 95));
  }
  if (chance(rng, o.occlusion_probability)) p.occlusion = uniform(rng, 0.05, o.max_occlusion);
  if (chance(rng, o.shadow_probability)) p.shadow = uniform(rng, 0.2, 0.6);
  if (chance(rng, o.gradient_probability)) p.gradient = uniform(rng, 0.1, 0.5);
  p.detail_seed = rng();
  return p;
}

double effective_blur(const SynthParams& p) {
  return std::sqrt(p.gaussian_blur * p.gaussian_blur + p.motion_blur * p.motion_blur / 12.0);
}

std::string quality_problem(const SynthOptions& o, const SynthParams& p, const cv::Mat& image,
                            const data::Roi& roi) {
  const double blur = effective_blur(p);
  if (blur > o.guard_max_blur) {
    return fmt::format("blur {:.2f} px > {:.2f}", blur, o.guard_max_blur);
  }
  if (p.sign_size < o.guard_min_sign_pixels) {
    return fmt::format("sign {} px < {}", p.sign_size, o.guard_min_sign_pixels);
  }
  if (image.empty()) return "";
  const int side = std::min(roi.x2 - roi.x1, roi.y2 - roi.y1) + 1;
  if (side < o.guard_min_sign_pixels) {
    return fmt::format("sign ROI {} px < {}", side, o.guard_min_sign_pixels);
  }
  const cv::Rect r(roi.x1, roi.y1, roi.x2 - roi.x1 + 1, roi.y2 - roi.y1 + 1);
  if ((r & cv::Rect(0, 0, image.cols, image.rows)) != r) return "ROI outside the image";
  cv::Mat gray;
  cv::cvtColor(image(r), gray, cv::COLOR_BGR2GRAY);
  cv::Scalar mean, stddev;
  cv::meanStdDev(gray, mean, stddev);
  if (stddev[0] < o.guard_min_contrast) {
    return fmt::format("contrast {:.1f} < {:.1f}", stddev[0], o.guard_min_contrast);
  }
  return "";
}

SynthSample render_sample(const Pictogram& pictogram, const BackgroundSource& backgrounds,
                          const SynthParams& p) {
  std::mt19937_64 rng(p.detail_seed);
  const int s = p.sign_size;
  const int ml = margin_pixels(p.margin_left, s), mr = margin_pixels(p.margin_right, s);
  const int mt = margin_pixels(p.margin_top, s), mb = margin_pixels(p.margin_bottom, s);
  const cv::Size out_size(s + ml + mr, s + mt + mb);
  const int ss = kSupersample;
  const cv::Size canvas_size(out_size.width * ss, out_size.height * ss);

  cv::Mat canvas = backgrounds.sample(canvas_size, rng);
  SignAppearance appearance = p.appearance;
  appearance.side = std::max(8, s * ss);
  const cv::Mat sign = render_sign(pictogram, appearance, rng);
  const cv::Point2f center((ml + s / 2.0f + p.offset_x * s) * ss,
                           (mt + s / 2.0f + p.offset_y * s) * ss);
  const auto quad = sign_quad(center, static_cast<float>(s * ss), p.rotate_degrees, p.yaw, p.pitch);
  const cv::Mat coverage = composite(canvas, sign, quad);

  cv::Mat f;
  canvas.convertTo(f, CV_32FC3, 1.0 / 255.0);
  if (p.occlusion > 0) {
    // Something in front of the sign (branch, post, another sign) entering from one side.
    const double side = s * ss, depth = p.occlusion * side;
    const double angle = uniform(rng, 0, 2 * CV_PI);
    const cv::Point2f dir(static_cast<float>(std::cos(angle)), static_cast<float>(std::sin(angle)));
    const cv::Point2f edge = center + dir * static_cast<float>(side / 2 - depth);
    const cv::Point2f along(-dir.y, dir.x);
    const float far = static_cast<float>(side * 2);
    std::vector<cv::Point> poly = {edge + along * far, edge - along * far,
                                   edge - along * far + dir * far, edge + along * far + dir * far};
    const cv::Scalar color(uniform(rng, 0.05, 0.6), uniform(rng, 0.05, 0.6), uniform(rng, 0.05, 0.6));
    cv::fillConvexPoly(f, poly, color, cv::LINE_AA);
  }
  if (p.shadow > 0) {
    cv::Mat shade(canvas_size, CV_32F, cv::Scalar(1.0));
    const double angle = uniform(rng, 0, 2 * CV_PI);
    cv::Mat ramp = linear_ramp(canvas_size, angle, -1, 1);
    const double cut = uniform(rng, -0.4, 0.4);
    shade.setTo(1.0 - p.shadow, ramp > cut);
    cv::GaussianBlur(shade, shade, {0, 0}, std::max(1.0, 0.03 * canvas_size.width));
    multiply_map(f, shade);
  }
  if (p.gradient > 0) {
    multiply_map(f, linear_ramp(canvas_size, uniform(rng, 0, 2 * CV_PI), 1 - p.gradient,
                                1 + p.gradient * 0.5));
  }
  if (p.motion_blur > 0) {
    const int len = std::max(1, static_cast<int>(std::lround(p.motion_blur * ss)));
    cv::Mat kernel(len * 2 + 1, len * 2 + 1, CV_32F, cv::Scalar(0));
    const double a = p.motion_angle * CV_PI / 180;
    const cv::Point c(len, len);
    const cv::Point d(static_cast<int>(std::lround(std::cos(a) * len / 2.0)),
                      static_cast<int>(std::lround(std::sin(a) * len / 2.0)));
    cv::line(kernel, c - d, c + d, cv::Scalar(1.0), 1);
    kernel /= cv::sum(kernel)[0];
    cv::filter2D(f, f, -1, kernel, {-1, -1}, 0, cv::BORDER_REFLECT);
  }
  if (p.gaussian_blur > 0.05) cv::GaussianBlur(f, f, {0, 0}, p.gaussian_blur * ss);

  cv::Mat small;
  cv::resize(f, small, out_size, 0, 0, cv::INTER_AREA);
  // Contrast around the mean, then brightness.
  const cv::Scalar mean = cv::mean(small);
  small = (small - mean) * p.contrast + mean;
  small *= p.brightness;
  if (p.noise > 0) {
    cv::Mat noise(small.size(), CV_32FC3);
    cv::RNG cv_rng(rng());
    cv_rng.fill(noise, cv::RNG::NORMAL, 0.0, p.noise / 255.0);
    small += noise;
  }
  cv::Mat out;
  small.convertTo(out, CV_8UC3, 255.0);
  if (p.jpeg_quality > 0) {
    std::vector<uchar> buffer;
    cv::imencode(".jpg", out, buffer, {cv::IMWRITE_JPEG_QUALITY, p.jpeg_quality});
    out = cv::imdecode(buffer, cv::IMREAD_COLOR);
  }

  SynthSample sample;
  sample.image = out;
  sample.class_id = pictogram.class_id;
  const cv::Rect box = mask_bounds(coverage > 127);
  const int x1 = std::clamp(box.x / ss, 0, out_size.width - 1);
  const int y1 = std::clamp(box.y / ss, 0, out_size.height - 1);
  const int x2 = std::clamp((box.x + box.width - 1) / ss, x1, out_size.width - 1);
  const int y2 = std::clamp((box.y + box.height - 1) / ss, y1, out_size.height - 1);
  sample.roi = {x1, y1, x2, y2};
  return sample;
}

SynthSample synthesize(const Pictogram& pictogram, const BackgroundSource& backgrounds,
                       const SynthOptions& options, uint64_t seed, int index) {
  SynthSample sample;
  for (int attempt = 0; attempt < kMaxDraws; ++attempt) {
    std::mt19937_64 rng(sample_seed(seed, pictogram.class_id, index, attempt));
    const SynthParams params = draw_params(options, rng);
    const bool last = attempt + 1 == kMaxDraws;
    if (!last && !quality_problem(options, params).empty()) continue;
    sample = render_sample(pictogram, backgrounds, params);
    sample.attempts = attempt + 1;
    if (last || quality_problem(options, params, sample.image, sample.roi).empty()) break;
  }
  return sample;
}

DatasetWriteReport write_synthetic_dataset(const std::vector<Pictogram>& pictograms,
                                           const BackgroundSource& backgrounds,
                                           const SynthOptions& options,
                                           const DatasetWriteOptions& write,
                                           const fs::path& out) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<int> classes = write.classes;
  if (classes.empty()) {
    for (const auto& p : pictograms) classes.push_back(p.class_id);
  }
  for (int c : classes) {
    FEDSIGN_CHECK(c >= 0 && c < static_cast<int>(pictograms.size()) && !pictograms[c].bgra.empty(),
                  "no pictogram for class {}", c);
  }
  FEDSIGN_CHECK(write.per_class > 0, "--per-class must be positive");
  const int track_size = std::max(1, write.track_size);
  FEDSIGN_CHECK((write.per_class - 1) / track_size <= 99999,
                "too many tracks per class for the GTSRB file names (max 99999)");

  const std::size_t total = classes.size() * static_cast<std::size_t>(write.per_class);
  std::vector<std::string> rows(total);
  std::atomic<std::size_t> next{0}, redraws{0};
  std::vector<std::string> errors;
  std::mutex error_mutex;
  for (int c : classes) fs::create_directories(out / "Train" / std::to_string(c));

  const int old_cv_threads = cv::getNumThreads();
  cv::setNumThreads(1);  // parallel over samples instead
  ProgressBar progress("synth", total, write.progress);
  auto worker = [&] {
    for (std::size_t job; (job = next.fetch_add(1)) < total;) {
      const int c = classes[job / write.per_class];
      const int index = static_cast<int>(job % write.per_class);
      try {
        SynthSample s = synthesize(pictograms[c], backgrounds, options, write.seed, index);
        redraws += static_cast<std::size_t>(s.attempts - 1);
        const std::string rel = fmt::format("Train/{}/{:05d}_{:05d}_{:05d}.png", c, c,
                                            index / track_size, index % track_size);
        FEDSIGN_CHECK(cv::imwrite((out / rel).string(), s.image), "cannot write {}",
                      (out / rel).string());
        rows[job] = fmt::format("{},{},{},{},{},{},{},{}", s.image.cols, s.image.rows, s.roi.x1,
                                s.roi.y1, s.roi.x2, s.roi.y2, c, rel);
      } catch (const std::exception& e) {
        std::lock_guard lock(error_mutex);
        errors.push_back(e.what());
        next = total;  // stop early
      }
      progress.advance();
    }
  };
  const int n = write.threads > 0 ? write.threads
                                  : std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> threads;
  for (int t = 0; t < n; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  progress.finish();
  cv::setNumThreads(old_cv_threads);
  FEDSIGN_CHECK(errors.empty(), "synthesis failed: {}", errors.front());

  std::string csv = "Width,Height,Roi.X1,Roi.Y1,Roi.X2,Roi.Y2,ClassId,Path\n";
  for (const auto& row : rows) csv += row + "\n";
  write_text_atomically(out / "Train.csv", csv);

  DatasetWriteReport report;
  report.images = total;
  report.redraws = redraws;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace fedsign::vision
