// Backgrounds behind synthetic signs: random crops of a folder of photos, or procedural
// textures (sky, foliage-like noise, road/wall textures, gradients) when no folder is given.
//
// A BackgroundSource is immutable after construction; sample() is const and thread-safe.
#pragma once

#include <opencv2/core.hpp>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace fedsign::vision {

enum class ProceduralKind { kSky, kFoliage, kRoad, kWall, kGradient };
inline constexpr int kNumProceduralKinds = 5;
std::string to_string(ProceduralKind kind);

// One procedural background of `size` (BGR, 8-bit).
cv::Mat procedural_background(ProceduralKind kind, cv::Size size, std::mt19937_64& rng);

class BackgroundSource {
 public:
  // Procedural backgrounds only.
  BackgroundSource() = default;
  // Photos from `folder` (jpg/png/ppm/bmp, searched recursively, sorted by path so sampling is
  // reproducible). `photo_fraction` of samples are photo crops, the rest procedural. Throws
  // fedsign::Error if the folder holds no readable image. Photos are kept in memory, downscaled
  // to at most `max_side` pixels.
  explicit BackgroundSource(const std::filesystem::path& folder, double photo_fraction = 0.8,
                            int max_side = 512);

  // A background of `size`, deterministic given the RNG state.
  cv::Mat sample(cv::Size size, std::mt19937_64& rng) const;

  std::size_t num_photos() const { return photos_.size(); }

 private:
  std::vector<cv::Mat> photos_;
  double photo_fraction_ = 0.0;
};

}  // namespace fedsign::vision
