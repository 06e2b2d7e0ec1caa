#include "fedsign/vision/scene.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <array>
#include <cmath>
#include <fstream>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"

namespace fedsign::vision {
namespace {

double uniform(std::mt19937_64& rng, double lo, double hi) {
  return std::uniform_real_distribution<double>(lo, hi)(rng);
}

int uniform_int(std::mt19937_64& rng, int lo, int hi) {
  return std::uniform_int_distribution<int>(lo, hi)(rng);
}

// Sky above, a wall or foliage band, road below: a street's layout from procedural textures.
cv::Mat street_background(cv::Size size, std::mt19937_64& rng) {
  cv::Mat out(size, CV_8UC3);
  const int sky = static_cast<int>(size.height * uniform(rng, 0.2, 0.4));
  const int road = static_cast<int>(size.height * uniform(rng, 0.6, 0.8));
  const ProceduralKind middle = uniform(rng, 0, 1) < 0.5 ? ProceduralKind::kWall
                                                         : ProceduralKind::kFoliage;
  procedural_background(ProceduralKind::kSky, {size.width, sky}, rng)
      .copyTo(out(cv::Rect(0, 0, size.width, sky)));
  procedural_background(middle, {size.width, road - sky}, rng)
      .copyTo(out(cv::Rect(0, sky, size.width, road - sky)));
  procedural_background(ProceduralKind::kRoad, {size.width, size.height - road}, rng)
      .copyTo(out(cv::Rect(0, road, size.width, size.height - road)));
  return out;
}

// Sign-coloured clutter that is not a sign: rectangles (cars, shop fronts) and thin stripes.
void draw_distractors(cv::Mat& image, int count, std::mt19937_64& rng) {
  const cv::Scalar colours[] = {{40, 40, 200}, {190, 90, 20}, {30, 200, 230}, {60, 60, 160}};
  for (int i = 0; i < count; ++i) {
    const cv::Scalar colour = colours[uniform_int(rng, 0, 3)];
    const int w = uniform_int(rng, 20, image.cols / 4), h = uniform_int(rng, 6, image.rows / 5);
    const int x = uniform_int(rng, 0, image.cols - w), y = uniform_int(rng, image.rows / 3,
                                                                       image.rows - h);
    if (uniform(rng, 0, 1) < 0.5) {
      cv::rectangle(image, cv::Rect(x, y, w, h), colour, cv::FILLED);
    } else {
      cv::line(image, {x, y}, {x + w, y + uniform_int(rng, -10, 10)}, colour,
               uniform_int(rng, 2, 5));
    }
  }
}

bool overlaps_any(const cv::Rect& box, const std::vector<cv::Rect>& taken) {
  for (const auto& t : taken) {
    const cv::Rect grown(t.x - 4, t.y - 4, t.width + 8, t.height + 8);
    if ((grown & box).area() > 0) return true;
  }
  return false;
}

}  // namespace

SceneGenerator::SceneGenerator(std::vector<Pictogram> pictograms, SceneOptions options,
                               std::shared_ptr<const BackgroundSource> backgrounds)
    : pictograms_(std::move(pictograms)),
      options_(std::move(options)),
      backgrounds_(std::move(backgrounds)) {
  FEDSIGN_CHECK(!pictograms_.empty(), "scene generator: no pictograms");
  FEDSIGN_CHECK(options_.min_side >= 8 && options_.max_side >= options_.min_side,
                "scene generator: bad sign sizes {}..{}", options_.min_side, options_.max_side);
  FEDSIGN_CHECK(options_.max_side * 3 / 2 < std::min(options_.width, options_.height),
                "scene generator: signs up to {} px do not fit a {}x{} scene", options_.max_side,
                options_.width, options_.height);
  FEDSIGN_CHECK(options_.min_signs >= 0 && options_.max_signs >= options_.min_signs,
                "scene generator: bad sign counts {}..{}", options_.min_signs, options_.max_signs);
  if (options_.classes.empty()) {
    for (const auto& p : pictograms_) {
      if (!p.bgra.empty()) options_.classes.push_back(p.class_id);
    }
  }
  for (int c : options_.classes) {
    FEDSIGN_CHECK(c >= 0 && c < static_cast<int>(pictograms_.size()) &&
                      !pictograms_[static_cast<std::size_t>(c)].bgra.empty(),
                  "scene generator: no pictogram for class {}", c);
  }
}

cv::Mat SceneGenerator::background(std::mt19937_64& rng) const {
  const cv::Size size(options_.width, options_.height);
  if (backgrounds_ && backgrounds_->num_photos() > 0) return backgrounds_->sample(size, rng);
  return street_background(size, rng);
}

Scene SceneGenerator::generate(uint64_t seed, uint64_t index) const {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + index * 1000003ULL + 17);
  Scene scene;
  scene.image = background(rng);
  draw_distractors(scene.image, uniform_int(rng, 0, options_.distractors), rng);
  const int count = uniform_int(rng, options_.min_signs, options_.max_signs);
  const double log_lo = std::log(options_.min_side), log_hi = std::log(options_.max_side);
  // Signs are placed first and composited after all the poles are drawn, so that a pole runs
  // behind every sign rather than across one lower down.
  struct Placed {
    cv::Mat sign;
    std::array<cv::Point2f, 4> quad;
    int class_id;
  };
  std::vector<Placed> placed;
  std::vector<cv::Rect> rough_boxes;  // where signs (with room for rotation and slant) are
  for (int i = 0; i < count; ++i) {
    for (int attempt = 0; attempt < 30; ++attempt) {
      const int side = static_cast<int>(std::lround(std::exp(uniform(rng, log_lo, log_hi))));
      const float half = side * 0.75f;  // room for rotation and slant
      const cv::Point2f centre(
          static_cast<float>(uniform(rng, half, options_.width - half)),
          static_cast<float>(uniform(rng, half, options_.height - half)));
      const cv::Rect rough(static_cast<int>(centre.x - half), static_cast<int>(centre.y - half),
                           static_cast<int>(2 * half), static_cast<int>(2 * half));
      if (overlaps_any(rough, rough_boxes)) continue;
      const int class_id =
          options_.classes[static_cast<std::size_t>(uniform_int(rng, 0, static_cast<int>(options_.classes.size()) - 1))];
      SignAppearance appearance = random_appearance(rng);
      appearance.side = std::max(side, 16);
      cv::Mat sign = render_sign(pictograms_[static_cast<std::size_t>(class_id)], appearance, rng);
      const float slant = options_.max_slant;
      const auto quad = sign_quad(
          centre, static_cast<float>(side),
          static_cast<float>(uniform(rng, -options_.max_rotate_degrees, options_.max_rotate_degrees)),
          static_cast<float>(uniform(rng, -slant, slant)),
          static_cast<float>(uniform(rng, -slant / 2, slant / 2)));
      // A grey pole below the sign.
      const int pole_top = static_cast<int>(centre.y + side * 0.45f);
      if (pole_top < options_.height) {
        cv::line(scene.image, {static_cast<int>(centre.x), pole_top},
                 {static_cast<int>(centre.x), options_.height - 1}, cv::Scalar(120, 120, 125),
                 std::max(2, side / 12));
      }
      placed.push_back({std::move(sign), quad, class_id});
      rough_boxes.push_back(rough);
      break;
    }
  }
  for (const auto& p : placed) {
    const cv::Mat mask = composite(scene.image, p.sign, p.quad);
    const cv::Rect box = mask_bounds(mask > 64);
    if (box.area() > 0) scene.signs.push_back({box, p.class_id, 1.0f});
  }
  if (uniform(rng, 0, 1) < options_.blur_probability) {
    const double sigma = uniform(rng, 0.5, 1.3);
    cv::GaussianBlur(scene.image, scene.image, {0, 0}, sigma);
  }
  if (options_.noise_sigma > 0) {
    cv::Mat noise(scene.image.size(), CV_16SC3);
    cv::RNG noise_rng(rng());
    noise_rng.fill(noise, cv::RNG::NORMAL, 0, options_.noise_sigma);
    cv::Mat img16;
    scene.image.convertTo(img16, CV_16SC3);
    img16 += noise;
    img16.convertTo(scene.image, CV_8UC3);
  }
  return scene;
}

void save_scene(const Scene& scene, const std::filesystem::path& png,
                const std::filesystem::path& json) {
  FEDSIGN_CHECK(cv::imwrite(png.string(), scene.image), "{}: cannot write image", png.string());
  std::string text = "[";
  for (std::size_t i = 0; i < scene.signs.size(); ++i) {
    const auto& s = scene.signs[i];
    text += fmt::format("{}{{\"box\": [{}, {}, {}, {}], \"class\": {}}}", i ? ", " : "", s.box.x,
                        s.box.y, s.box.width, s.box.height, s.class_id);
  }
  write_text_atomically(json, text + "]\n");
}

}  // namespace fedsign::vision
