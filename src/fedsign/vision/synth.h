// Synthetic GTSRB-like crops rendered from sign pictograms, and a writer for whole datasets in
// the Kaggle layout (Train.csv + Train/<class>/<CCCCC>_<TTTTT>_<FFFFF>.png), which
// data::find_dataset reads like the real download.
//
// Each sample is deterministic in (seed, class, index): its RNG is seeded from those three only,
// so the output does not depend on thread count or order. Rendering is supersampled (drawn at
// 2x, reduced with area averaging) like a camera's optics.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "fedsign/data/gtsrb_reader.h"
#include "fedsign/vision/backgrounds.h"
#include "fedsign/vision/pictograms.h"

namespace fedsign::vision {

// Ranges the per-sample parameters are drawn from, and quality guards.
struct SynthOptions {
  int min_sign_size = 20;          // sign side in pixels, drawn log-uniformly in [min, max]
  int max_sign_size = 80;
  double margin = 0.1;             // border around the ROI as a fraction of the sign (>= 5 px, as
                                   // in GTSRB)
  double max_rotate_degrees = 10;  // in-plane rotation
  double max_slant = 0.25;         // perspective: shrink of the far edge (fraction)
  double max_offset = 0.03;        // sign centre jitter, fraction of the sign side
  double max_gaussian_blur = 1.2;  // sigma in output pixels
  double motion_blur_probability = 0.25;
  double max_motion_blur = 3.0;    // kernel length in output pixels
  double brightness = 0.45;        // multiplicative factor in [1-x, 1+x] (skewed to dark)
  double contrast = 0.35;
  double noise = 6.0;              // max Gaussian noise sigma (0..255)
  double jpeg_probability = 0.5;
  int min_jpeg_quality = 30;
  double occlusion_probability = 0.15;
  double max_occlusion = 0.25;     // fraction of the sign side covered
  double shadow_probability = 0.25;
  double gradient_probability = 0.4;
  double appearance_strength = 1.0;  // scales fading / dirt / colour temperature
  // Quality guards: samples violating them are redrawn (deterministically).
  int guard_min_sign_pixels = 15;  // ROI side after perspective and rotation
  double guard_max_blur = 1.6;     // combined blur sigma in output pixels
  double guard_min_contrast = 10;  // std-dev of luminance inside the ROI (0..255)
};

// Everything drawn for one sample.
struct SynthParams {
  int sign_size = 32;
  float rotate_degrees = 0, yaw = 0, pitch = 0, offset_x = 0, offset_y = 0;
  float margin_left = 0.1f, margin_right = 0.1f, margin_top = 0.1f, margin_bottom = 0.1f;
  SignAppearance appearance;
  double gaussian_blur = 0;  // sigma, output pixels
  double motion_blur = 0;    // length, output pixels (0: none)
  double motion_angle = 0;   // degrees
  double brightness = 1, contrast = 1;
  double noise = 0;
  int jpeg_quality = 0;      // 0: no JPEG round trip
  double occlusion = 0;      // fraction of the sign side covered (0: none)
  double shadow = 0;         // darkening of a shadow half-plane (0: none)
  double gradient = 0;       // strength of a lighting gradient (0: none)
  uint64_t detail_seed = 0;  // for the remaining per-pixel randomness (noise, shapes)
};

SynthParams draw_params(const SynthOptions& options, std::mt19937_64& rng);

// Combined blur sigma (output pixels) of Gaussian and motion blur.
double effective_blur(const SynthParams& params);

struct SynthSample {
  cv::Mat image;  // BGR 8-bit
  data::Roi roi;  // sign bounding box, inclusive coordinates
  int class_id = -1;
  int attempts = 1;  // draws needed to pass the guards
};

// Why `params` or a rendered sample fails the guards ("" if it passes). `image`/`roi` may be
// empty/default to check the parameters alone.
std::string quality_problem(const SynthOptions& options, const SynthParams& params,
                            const cv::Mat& image = {}, const data::Roi& roi = {});

// Renders one sample with explicit parameters (no guards).
SynthSample render_sample(const Pictogram& pictogram, const BackgroundSource& backgrounds,
                          const SynthParams& params);

// Sample `index` of `class_id`: parameters drawn from (seed, class, index), redrawn until the
// guards pass (at most 50 draws; the last one is kept).
SynthSample synthesize(const Pictogram& pictogram, const BackgroundSource& backgrounds,
                       const SynthOptions& options, uint64_t seed, int index);

struct DatasetWriteOptions {
  std::vector<int> classes;  // empty: all pictograms
  int per_class = 100;
  int track_size = 1;        // consecutive samples sharing a track id (GTSRB file name TTTTT)
  uint64_t seed = 1;
  int threads = 0;           // 0: hardware concurrency
  bool progress = true;
};

struct DatasetWriteReport {
  std::size_t images = 0;
  std::size_t redraws = 0;  // samples rejected by the guards and drawn again
  double seconds = 0;
  double images_per_minute() const { return seconds > 0 ? images * 60.0 / seconds : 0.0; }
};

// Writes `out`/Train.csv and `out`/Train/<class>/*.png. Overwrites existing files of the same
// names. Throws fedsign::Error on I/O failure.
DatasetWriteReport write_synthetic_dataset(const std::vector<Pictogram>& pictograms,
                                           const BackgroundSource& backgrounds,
                                           const SynthOptions& options,
                                           const DatasetWriteOptions& write,
                                           const std::filesystem::path& out);

}  // namespace fedsign::vision
