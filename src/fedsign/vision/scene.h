// Synthetic street scenes for measuring a sign detector: GTSRB Meta/ pictograms rendered with
// wear, perspective and blur (vision/pictograms.h) and composited onto a street-like procedural
// background (sky, wall or foliage, road; vision/backgrounds.h) or onto photos, with the boxes
// and classes known. Plus a few sign-coloured distractors (red/blue/yellow rectangles and
// stripes) so colour alone is not enough. Deterministic given the seed; thread-safe for
// distinct generators.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "fedsign/vision/backgrounds.h"
#include "fedsign/vision/nms.h"
#include "fedsign/vision/pictograms.h"

namespace fedsign::vision {

struct SceneOptions {
  int width = 640;
  int height = 360;
  int min_signs = 1;
  int max_signs = 4;
  int min_side = 20;          // sign side in pixels, drawn log-uniformly from [min, max]
  int max_side = 120;
  float max_rotate_degrees = 6.f;
  float max_slant = 0.25f;    // yaw/pitch of the perspective, fraction of the side
  double blur_probability = 0.3;
  double noise_sigma = 3.0;   // Gaussian pixel noise (0: none)
  int distractors = 3;        // sign-coloured non-sign shapes per scene (at most)
  std::vector<int> classes;   // classes to draw from (empty: all pictograms)
};

struct Scene {
  cv::Mat image;                  // BGR
  std::vector<Detection> signs;   // truth: box, class_id, score 1
};

class SceneGenerator {
 public:
  // `backgrounds` may be null: procedural street backgrounds.
  SceneGenerator(std::vector<Pictogram> pictograms, SceneOptions options,
                 std::shared_ptr<const BackgroundSource> backgrounds = nullptr);

  // Scene number `index` of the sequence seeded by `seed` (independent of call order).
  Scene generate(uint64_t seed, uint64_t index) const;

  const SceneOptions& options() const { return options_; }

 private:
  cv::Mat background(std::mt19937_64& rng) const;

  std::vector<Pictogram> pictograms_;
  SceneOptions options_;
  std::shared_ptr<const BackgroundSource> backgrounds_;
};

// Writes scene.image as PNG and its truth as JSON ([{"box": [x, y, w, h], "class": c}, ...]).
void save_scene(const Scene& scene, const std::filesystem::path& png,
                const std::filesystem::path& json);

}  // namespace fedsign::vision
