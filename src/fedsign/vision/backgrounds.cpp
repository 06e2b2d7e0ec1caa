#include "fedsign/vision/backgrounds.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "fedsign/core/check.h"

namespace fedsign::vision {
namespace fs = std::filesystem;

namespace {

double uniform(std::mt19937_64& rng, double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}

// Multi-octave value noise in [0, 1], CV_32F: random grids upsampled and summed.
cv::Mat value_noise(cv::Size size, std::mt19937_64& rng, int octaves, double base_cells) {
  cv::Mat sum(size, CV_32F, cv::Scalar(0));
  double amplitude = 1.0, total = 0.0, cells = base_cells;
  for (int o = 0; o < octaves; ++o) {
    const int gw = std::max(2, static_cast<int>(cells)), gh = std::max(2, static_cast<int>(cells));
    cv::Mat grid(gh, gw, CV_32F);
    for (int y = 0; y < gh; ++y)
      for (int x = 0; x < gw; ++x) grid.at<float>(y, x) = static_cast<float>(uniform(rng, 0, 1));
    cv::Mat up;
    cv::resize(grid, up, size, 0, 0, cv::INTER_CUBIC);
    sum += up * amplitude;
    total += amplitude;
    amplitude *= 0.5;
    cells *= 2;
  }
  sum /= total;
  return cv::max(cv::min(sum, 1.0), 0.0);
}

cv::Mat colorize(const cv::Mat& t, cv::Scalar dark, cv::Scalar light) {
  cv::Mat t3, out;
  cv::cvtColor(t, t3, cv::COLOR_GRAY2BGR);
  cv::Mat a(t.size(), CV_32FC3, dark), b(t.size(), CV_32FC3, light);
  out = a + (b - a).mul(t3);
  out.convertTo(out, CV_8UC3);
  return out;
}

cv::Scalar jitter(cv::Scalar c, std::mt19937_64& rng, double amount) {
  for (int i = 0; i < 3; ++i) c[i] = std::clamp(c[i] + uniform(rng, -amount, amount), 0.0, 255.0);
  return c;
}

}  // namespace

std::string to_string(ProceduralKind kind) {
  switch (kind) {
    case ProceduralKind::kSky: return "sky";
    case ProceduralKind::kFoliage: return "foliage";
    case ProceduralKind::kRoad: return "road";
    case ProceduralKind::kWall: return "wall";
    case ProceduralKind::kGradient: return "gradient";
  }
  return "unknown";
}

cv::Mat procedural_background(ProceduralKind kind, cv::Size size, std::mt19937_64& rng) {
  FEDSIGN_CHECK(size.width > 0 && size.height > 0, "background size {}x{}", size.width,
                size.height);
  cv::Mat out;
  switch (kind) {
    case ProceduralKind::kSky: {
      // Vertical gradient (BGR), overcast or blue, with soft clouds.
      const bool overcast = uniform(rng, 0, 1) < 0.5;
      cv::Scalar top = overcast ? jitter({200, 195, 190}, rng, 30) : jitter({210, 150, 90}, rng, 35);
      cv::Scalar bottom = overcast ? jitter({225, 222, 220}, rng, 25) : jitter({235, 200, 160}, rng, 30);
      cv::Mat t(size, CV_32F);
      for (int y = 0; y < size.height; ++y) t.row(y).setTo(static_cast<float>(y) / size.height);
      out = colorize(t, top, bottom);
      cv::Mat clouds = value_noise(size, rng, 3, 3) * uniform(rng, 0.2, 0.6);
      cv::Mat c3;
      cv::cvtColor(clouds, c3, cv::COLOR_GRAY2BGR);
      cv::Mat f;
      out.convertTo(f, CV_32FC3);
      f = f + (cv::Scalar(245, 245, 245) - f).mul(c3);
      f.convertTo(out, CV_8UC3);
      break;
    }
    case ProceduralKind::kFoliage: {
      cv::Mat n = value_noise(size, rng, 4, uniform(rng, 3, 8));
      cv::Mat fine = value_noise(size, rng, 2, size.width / 3.0 + 2);
      n = n * 0.6 + fine * 0.4;
      out = colorize(n, jitter({20, 50, 30}, rng, 15), jitter({80, 150, 110}, rng, 30));
      break;
    }
    case ProceduralKind::kRoad: {
      cv::Mat n = value_noise(size, rng, 2, size.width / 2.0 + 2) * 0.5 +
                  value_noise(size, rng, 3, 3) * 0.5;
      const double g = uniform(rng, 60, 140);
      out = colorize(n, cv::Scalar(g * 0.7, g * 0.7, g * 0.7), cv::Scalar(g * 1.3, g * 1.3, g * 1.25));
      if (uniform(rng, 0, 1) < 0.3) {  // a painted line or kerb
        const int y = static_cast<int>(uniform(rng, 0, size.height));
        cv::line(out, {0, y}, {size.width, y + static_cast<int>(uniform(rng, -5, 5))},
                 jitter({210, 210, 210}, rng, 20), std::max(1, size.height / 12));
      }
      break;
    }
    case ProceduralKind::kWall: {
      cv::Mat n = value_noise(size, rng, 3, 4);
      const double g = uniform(rng, 60, 180);
      const cv::Scalar base = jitter({g * 0.9, g, g * 1.1}, rng, 25);
      out = colorize(n, base * 0.7, base * 1.2);
      if (uniform(rng, 0, 1) < 0.5) {  // bricks / panels
        const int bh = std::max(3, static_cast<int>(uniform(rng, 0.08, 0.25) * size.height));
        const int bw = bh * 2;
        const cv::Scalar mortar = base * 0.55;
        for (int y = 0, r = 0; y < size.height; y += bh, ++r) {
          cv::line(out, {0, y}, {size.width, y}, mortar, 1);
          for (int x = (r % 2) * bw / 2; x < size.width; x += bw)
            cv::line(out, {x, y}, {x, y + bh}, mortar, 1);
        }
      }
      break;
    }
    case ProceduralKind::kGradient: {
      const double angle = uniform(rng, 0, 2 * CV_PI);
      cv::Mat t(size, CV_32F);
      const double c = std::cos(angle), s = std::sin(angle);
      for (int y = 0; y < size.height; ++y)
        for (int x = 0; x < size.width; ++x)
          t.at<float>(y, x) = static_cast<float>(
              0.5 + 0.5 * (c * (x - size.width / 2.0) + s * (y - size.height / 2.0)) /
                        (0.5 * std::hypot(size.width, size.height)));
      const double g1 = uniform(rng, 30, 150), g2 = uniform(rng, 90, 230);
      out = colorize(t, jitter({g1, g1, g1}, rng, 30), jitter({g2, g2, g2}, rng, 30));
      break;
    }
  }
  // Random clutter (poles, posts, blobs) for all kinds but sky half the time.
  const int shapes = static_cast<int>(uniform(rng, 0, 4));
  for (int i = 0; i < shapes; ++i) {
    const double g = uniform(rng, 40, 180);  // dull: posts, trees, buildings
    const cv::Scalar color = jitter({g, g, g}, rng, 25);
    const cv::Point p(static_cast<int>(uniform(rng, 0, size.width)),
                      static_cast<int>(uniform(rng, 0, size.height)));
    if (uniform(rng, 0, 1) < 0.5) {
      cv::line(out, p, {p.x + static_cast<int>(uniform(rng, -10, 10)), size.height}, color,
               std::max(1, static_cast<int>(uniform(rng, 0.02, 0.08) * size.width)));
    } else {
      cv::ellipse(out, p,
                  {std::max(1, static_cast<int>(uniform(rng, 0.05, 0.3) * size.width)),
                   std::max(1, static_cast<int>(uniform(rng, 0.05, 0.3) * size.height))},
                  uniform(rng, 0, 180), 0, 360, color, cv::FILLED);
    }
  }
  return out;
}

BackgroundSource::BackgroundSource(const fs::path& folder, double photo_fraction, int max_side)
    : photo_fraction_(photo_fraction) {
  FEDSIGN_CHECK(fs::is_directory(folder), "background folder not found: {}", folder.string());
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(folder)) {
    if (!entry.is_regular_file()) continue;
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    if (ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".ppm" || ext == ".bmp") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    cv::Mat image = cv::imread(file.string(), cv::IMREAD_COLOR);
    if (image.empty() || image.cols < 8 || image.rows < 8) continue;
    const int side = std::max(image.cols, image.rows);
    if (side > max_side) {
      const double s = static_cast<double>(max_side) / side;
      cv::resize(image, image, {}, s, s, cv::INTER_AREA);
    }
    photos_.push_back(image);
  }
  FEDSIGN_CHECK(!photos_.empty(), "no readable background image in {}", folder.string());
}

cv::Mat BackgroundSource::sample(cv::Size size, std::mt19937_64& rng) const {
  // Draw the choice first so the RNG sequence does not depend on the photo set's size.
  const double pick = uniform(rng, 0, 1);
  const double kind = uniform(rng, 0, 1);
  if (!photos_.empty() && pick < photo_fraction_) {
    const cv::Mat& photo = photos_[static_cast<std::size_t>(kind * photos_.size()) % photos_.size()];
    // A random crop of random scale (at least the target aspect), resized to `size`.
    const double max_scale = std::min(static_cast<double>(photo.cols) / size.width,
                                      static_cast<double>(photo.rows) / size.height);
    const double scale = max_scale <= 1 ? max_scale : uniform(rng, std::min(1.0, max_scale), max_scale);
    const int w = std::max(1, static_cast<int>(size.width * scale));
    const int h = std::max(1, static_cast<int>(size.height * scale));
    const int x = static_cast<int>(uniform(rng, 0, std::max(1, photo.cols - w + 1)));
    const int y = static_cast<int>(uniform(rng, 0, std::max(1, photo.rows - h + 1)));
    cv::Mat out;
    cv::resize(photo(cv::Rect(x, y, std::min(w, photo.cols - x), std::min(h, photo.rows - y))),
               out, size, 0, 0, cv::INTER_AREA);
    return out;
  }
  const auto k = static_cast<ProceduralKind>(static_cast<int>(kind * kNumProceduralKinds) %
                                             kNumProceduralKinds);
  return procedural_background(k, size, rng);
}

}  // namespace fedsign::vision
