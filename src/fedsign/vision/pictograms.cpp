#include "fedsign/vision/pictograms.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

#include "fedsign/core/check.h"

namespace fedsign::vision {
namespace fs = std::filesystem;

namespace {

constexpr int kPedestrians = 27;  // GTSRB class "Pedestrians"

bool is_meta_dir(const fs::path& dir) { return fs::exists(dir / "0.png"); }

// Meta.csv: Path,ClassId,ShapeId,ColorId,SignId
void read_meta_csv(const fs::path& file, std::vector<Pictogram>* pictograms) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> fields;
    std::stringstream ss(line);
    for (std::string f; std::getline(ss, f, ',');) fields.push_back(f);
    if (fields.size() < 4) continue;
    try {
      const int id = std::stoi(fields[1]);
      if (id < 0 || id >= static_cast<int>(pictograms->size())) continue;
      (*pictograms)[id].shape_id = std::stoi(fields[2]);
      (*pictograms)[id].color_id = std::stoi(fields[3]);
    } catch (const std::exception&) {
      continue;  // shape/colour ids are optional extras
    }
  }
}

}  // namespace

fs::path find_meta_dir(const fs::path& dir) {
  FEDSIGN_CHECK(fs::is_directory(dir), "no such folder: {}", dir.string());
  if (is_meta_dir(dir)) return dir;
  if (is_meta_dir(dir / "Meta")) return dir / "Meta";
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
       ++it) {
    if (it.depth() > 3) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory() && it->path().filename() == "Meta" && is_meta_dir(it->path())) {
      return it->path();
    }
  }
  FEDSIGN_FAIL("no Meta/ folder with sign pictograms (0.png ...) under {}", dir.string());
}

cv::Rect mask_bounds(const cv::Mat& mask) {
  cv::Mat points;
  cv::findNonZero(mask, points);
  if (points.empty()) return {};
  return cv::boundingRect(points);
}

namespace {

// GTSRB's Meta/27.png ("Pedestrians", a red triangle) shows a walker on a zebra crossing, but the
// class's real photos show German sign 133: the walker alone. Learned from the pictogram as is,
// the class scored 0% on real photos in the rare-sign protocol. So the zebra stripes - the dark
// blobs wholly in the bottom of the triangle, not joined to the figure - are painted white.
void remove_zebra_stripes(cv::Mat& bgra) {
  cv::Mat channels[4];
  cv::split(bgra, channels);
  cv::Mat brightest = cv::max(channels[0], cv::max(channels[1], channels[2]));
  cv::Mat dark = (brightest < 90) & (channels[3] > 0);
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(dark, labels, stats, centroids, 8);
  const int top_limit = static_cast<int>(0.70 * bgra.rows);
  for (int k = 1; k < n; ++k) {
    if (stats.at<int>(k, cv::CC_STAT_TOP) < top_limit) continue;  // the walker reaches higher
    cv::Mat blob = labels == k;
    cv::dilate(blob, blob, cv::Mat(), {-1, -1}, 1);  // and the anti-aliased rim
    bgra.setTo(cv::Scalar(255, 255, 255, 255), blob & (channels[3] > 0));
  }
}

// GTSRB's Meta/22.png ("Bumpy road") and Meta/25.png ("Road work") are the yellow-filled
// temporary variants of those warning signs; GTSRB photographed the permanent German signs,
// which are white inside. Rendered as is, a classifier trained on the photos read none of them
// in the detection benchmark. So the yellow of warning triangles is painted white (a yellow
// pixel becomes grey at its own brightness, so anti-aliased edges stay smooth).
void whiten_yellow_fill(cv::Mat& bgra) {
  cv::Mat bgr, hsv, yellow;
  cv::cvtColor(bgra, bgr, cv::COLOR_BGRA2BGR);
  cv::cvtColor(bgr, hsv, cv::COLOR_BGR2HSV);
  cv::inRange(hsv, cv::Scalar(18, 80, 40), cv::Scalar(40, 255, 255), yellow);
  cv::Mat channels[4];
  cv::split(bgra, channels);
  const cv::Mat level = cv::max(channels[1], channels[2]);
  for (int k = 0; k < 3; ++k) level.copyTo(channels[k], yellow);
  cv::merge(channels, 4, bgra);
}

}  // namespace

std::vector<Pictogram> load_pictograms(const fs::path& meta_dir, int num_classes) {
  std::vector<Pictogram> result(num_classes);
  for (int c = 0; c < num_classes; ++c) {
    const fs::path file = meta_dir / (std::to_string(c) + ".png");
    FEDSIGN_CHECK(fs::exists(file), "missing pictogram {}", file.string());
    cv::Mat image = cv::imread(file.string(), cv::IMREAD_UNCHANGED);
    FEDSIGN_CHECK(!image.empty(), "cannot decode pictogram {}", file.string());
    if (image.depth() != CV_8U) image.convertTo(image, CV_8U, 1.0 / 257.0);
    cv::Mat bgra;
    if (image.channels() == 4) {
      bgra = image;
    } else {
      cv::Mat bgr = image;
      if (image.channels() == 1) cv::cvtColor(image, bgr, cv::COLOR_GRAY2BGR);
      cv::Mat gray, alpha;
      cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
      cv::threshold(gray, alpha, 245, 255, cv::THRESH_BINARY_INV);
      cv::cvtColor(bgr, bgra, cv::COLOR_BGR2BGRA);
      cv::Mat channels[4];
      cv::split(bgra, channels);
      channels[3] = alpha;
      cv::merge(channels, 4, bgra);
    }
    cv::Mat alpha;
    cv::extractChannel(bgra, alpha, 3);
    cv::Mat opaque = alpha > 32;
    const cv::Rect box = mask_bounds(opaque);
    FEDSIGN_CHECK(box.area() > 0, "pictogram {} is fully transparent", file.string());
    result[c].class_id = c;
    result[c].bgra = bgra(box).clone();
  }
  for (const fs::path& csv : {meta_dir / "Meta.csv", meta_dir.parent_path() / "Meta.csv"}) {
    if (fs::exists(csv)) {
      read_meta_csv(csv, &result);
      break;
    }
  }
  if (num_classes > kPedestrians && result[kPedestrians].shape_id == 0) {  // GTSRB's own Meta
    remove_zebra_stripes(result[kPedestrians].bgra);
  }
  for (auto& p : result) {
    if (p.shape_id == 0 && !p.bgra.empty()) whiten_yellow_fill(p.bgra);  // warning triangles
  }
  return result;
}

SignAppearance random_appearance(std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  SignAppearance a;
  a.fade = u(rng) < 0.5 ? 0.0 : std::pow(u(rng), 2.0) * 0.6;
  a.dirt = u(rng) < 0.7 ? 0.0 : u(rng) * 0.25;
  a.color_temperature = (u(rng) * 2 - 1) * 0.6;
  a.saturation = 0.6 + u(rng) * 0.6;
  a.alternate_design = u(rng) < 0.6;
  return a;
}

namespace {

std::string speed_limit_text(int class_id) {
  switch (class_id) {
    case 0: return "20";
    case 1: return "30";
    case 2: return "50";
    case 3: return "60";
    case 4: return "70";
    case 5: return "80";
    case 7: return "100";
    case 8: return "120";
    default: return {};
  }
}

// GTSRB's Meta pictograms print speed limits in a bold italic face; real German signs use the
// narrow, upright DIN 1451. A model that learns "20" from the pictogram alone reads a real 20 as
// the real 30 it has seen (measured: 0% on class 0 in the rare-sign protocol). So part of the
// samples get the number repainted in OpenCV's plain Hershey face, squeezed to DIN proportions
// (digits about 0.9 of the radius high, narrow), over a white disc that keeps the red ring.
void redraw_speed_digits(cv::Mat& bgra, const std::string& text) {
  const cv::Point center(bgra.cols / 2, bgra.rows / 2);
  const double radius = std::min(bgra.cols, bgra.rows) / 2.0;
  cv::circle(bgra, center, static_cast<int>(radius * 0.74), cv::Scalar(255, 255, 255, 255),
             cv::FILLED, cv::LINE_AA);
  constexpr double kScale = 4.0;
  constexpr int kThickness = 15;
  int baseline = 0;
  const cv::Size size = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX, kScale, kThickness, &baseline);
  cv::Mat canvas(size.height + baseline + 4 * kThickness, size.width + 4 * kThickness, CV_8U,
                 cv::Scalar(0));
  cv::putText(canvas, text, {2 * kThickness, size.height + 2 * kThickness},
              cv::FONT_HERSHEY_SIMPLEX, kScale, cv::Scalar(255), kThickness, cv::LINE_AA);
  canvas = canvas(cv::boundingRect(canvas)).clone();
  const int digits = static_cast<int>(text.size());
  const int h = std::max(2, static_cast<int>(std::lround(radius * 0.88)));
  const int w = std::max(2, static_cast<int>(std::lround(radius * (digits >= 3 ? 1.3 : 1.0))));
  cv::resize(canvas, canvas, {w, h}, 0, 0, cv::INTER_AREA);
  const cv::Rect box = cv::Rect(center.x - w / 2, center.y - h / 2, w, h) &
                       cv::Rect(0, 0, bgra.cols, bgra.rows);
  for (int y = box.y; y < box.y + box.height; ++y) {
    for (int x = box.x; x < box.x + box.width; ++x) {
      const float ink = canvas.at<uint8_t>(y - (center.y - h / 2), x - (center.x - w / 2)) / 255.f;
      auto& px = bgra.at<cv::Vec4b>(y, x);
      for (int k = 0; k < 3; ++k) px[k] = cv::saturate_cast<uint8_t>(px[k] * (1 - ink) + 25 * ink);
    }
  }
}

// GTSRB's Meta/27.png shows the striding, leaning walker of today's sign 133; most of the
// class's photos show the older design, an upright man walking (head, straight torso, arms
// down, legs in a narrow stride). A model that learned only the pictogram read those photos as
// "Right-of-way" or "General caution" (13-37% in the rare-sign protocol). This paints the
// triangle's interior white (every pixel that is not the red border) and draws the upright
// walker with a random stride, arm swing and lean, in the pictogram's proportions.
void redraw_upright_walker(cv::Mat& bgra, std::mt19937_64& rng) {
  for (int y = 0; y < bgra.rows; ++y) {
    for (int x = 0; x < bgra.cols; ++x) {
      auto& px = bgra.at<cv::Vec4b>(y, x);
      const int b = px[0], g = px[1], r = px[2];
      if (px[3] > 0 && !(r > 120 && r > 2 * std::max(g, b))) px = {255, 255, 255, px[3]};
    }
  }
  std::uniform_real_distribution<double> u(0.0, 1.0);
  const double s = bgra.rows, cx = bgra.cols / 2.0 + (u(rng) - 0.5) * 0.03 * s;
  const double stride = 0.065 + 0.04 * u(rng), swing = 0.04 + 0.035 * u(rng);
  const double lean = (u(rng) - 0.5) * 0.04;  // hip offset relative to the shoulders
  const cv::Scalar ink(20, 20, 20, 255);
  const int shift = 4;  // sub-pixel coordinates
  auto at = [&](double dx, double y) {
    return cv::Point(static_cast<int>(std::lround((cx + dx * s) * (1 << shift))),
                     static_cast<int>(std::lround(y * s * (1 << shift))));
  };
  auto stroke = [&](double x0, double y0, double x1, double y1, double width) {
    cv::line(bgra, at(x0, y0), at(x1, y1), ink, std::max(1, static_cast<int>(std::lround(width * s))),
             cv::LINE_AA, shift);
  };
  cv::circle(bgra, at(0.0, 0.35), static_cast<int>(std::lround(0.042 * s * (1 << shift))), ink,
             cv::FILLED, cv::LINE_AA, shift);
  const double hip_x = lean, hip_y = 0.605;
  stroke(0.0, 0.43, hip_x, hip_y, 0.055);                       // torso
  stroke(0.0, 0.44, swing, 0.59, 0.03);                         // arms, swinging
  stroke(0.0, 0.44, -swing, 0.585, 0.03);
  stroke(hip_x, hip_y, hip_x + stride, 0.80, 0.045);            // legs in a stride
  stroke(hip_x, hip_y, hip_x - stride, 0.80, 0.045);
}

}  // namespace

cv::Mat render_sign(const Pictogram& pictogram, const SignAppearance& appearance,
                    std::mt19937_64& rng) {
  FEDSIGN_CHECK(!pictogram.bgra.empty(), "empty pictogram (class {})", pictogram.class_id);
  cv::Mat bgra = pictogram.bgra;
  if (appearance.alternate_design) {
    if (const std::string text = speed_limit_text(pictogram.class_id); !text.empty()) {
      bgra = bgra.clone();
      redraw_speed_digits(bgra, text);
    } else if (pictogram.class_id == kPedestrians && pictogram.shape_id == 0) {  // GTSRB's Meta
      bgra = bgra.clone();
      redraw_upright_walker(bgra, rng);
    }
  }
  if (appearance.side > 0) {
    cv::resize(bgra, bgra, {appearance.side, appearance.side}, 0, 0,
               appearance.side < bgra.cols ? cv::INTER_AREA : cv::INTER_LINEAR);
  } else {
    bgra = bgra.clone();
  }
  cv::Mat channels[4];
  cv::split(bgra, channels);
  cv::Mat bgr;
  cv::merge(channels, 3, bgr);
  cv::Mat f;
  bgr.convertTo(f, CV_32FC3, 1.0 / 255.0);

  // Saturation around the per-pixel grey value.
  if (std::abs(appearance.saturation - 1.0) > 1e-6) {
    cv::Mat gray, gray3;
    cv::cvtColor(f, gray, cv::COLOR_BGR2GRAY);
    cv::cvtColor(gray, gray3, cv::COLOR_GRAY2BGR);
    cv::addWeighted(f, appearance.saturation, gray3, 1.0 - appearance.saturation, 0.0, f);
  }
  // Fading: towards a pale, low-contrast version.
  if (appearance.fade > 0) {
    cv::Mat pale = f * 0.55 + cv::Scalar::all(0.4);
    cv::addWeighted(f, 1.0 - appearance.fade, pale, appearance.fade, 0.0, f);
  }
  // Colour temperature: warm boosts red and cuts blue, cool the opposite.
  if (appearance.color_temperature != 0) {
    const double t = appearance.color_temperature * 0.15;
    cv::multiply(f, cv::Scalar(1.0 - t, 1.0, 1.0 + t), f);
  }
  // Dirt: dark, soft speckles.
  if (appearance.dirt > 0) {
    std::uniform_real_distribution<float> u(0.f, 1.f);
    cv::Mat dirt(f.size(), CV_32F, cv::Scalar(0));
    const int spots = static_cast<int>(appearance.dirt * 60) + 1;
    const float side = static_cast<float>(f.cols);
    for (int i = 0; i < spots; ++i) {
      cv::circle(dirt, {static_cast<int>(u(rng) * side), static_cast<int>(u(rng) * f.rows)},
                 std::max(1, static_cast<int>(u(rng) * side * 0.06)), cv::Scalar(0.3 + 0.5 * u(rng)),
                 cv::FILLED);
    }
    cv::GaussianBlur(dirt, dirt, {0, 0}, std::max(0.8, side * 0.015));
    cv::Mat keep = 1.0 - dirt;
    cv::Mat keep3;
    cv::cvtColor(keep, keep3, cv::COLOR_GRAY2BGR);
    cv::multiply(f, keep3, f);
  }
  f.convertTo(bgr, CV_8UC3, 255.0);
  cv::Mat out_channels[3];
  cv::split(bgr, out_channels);
  cv::Mat merged[4] = {out_channels[0], out_channels[1], out_channels[2], channels[3]};
  cv::Mat out;
  cv::merge(merged, 4, out);
  return out;
}

std::array<cv::Point2f, 4> sign_quad(cv::Point2f center, float size, float rotate_degrees,
                                     float yaw, float pitch) {
  const float h = size / 2;
  // Perspective: the far edge shrinks by yaw (left/right) or pitch (top/bottom).
  const float ly = yaw > 0 ? 1 - yaw : 1.f, ry = yaw < 0 ? 1 + yaw : 1.f;
  const float tx = pitch > 0 ? 1 - pitch : 1.f, bx = pitch < 0 ? 1 + pitch : 1.f;
  std::array<cv::Point2f, 4> q = {cv::Point2f(-h * tx, -h * ly), cv::Point2f(h * tx, -h * ry),
                                  cv::Point2f(h * bx, h * ry), cv::Point2f(-h * bx, h * ly)};
  const float a = rotate_degrees * static_cast<float>(CV_PI) / 180.f;
  const float c = std::cos(a), s = std::sin(a);
  for (auto& p : q) p = {center.x + c * p.x - s * p.y, center.y + s * p.x + c * p.y};
  return q;
}

cv::Mat composite(cv::Mat& background, const cv::Mat& sign_bgra,
                  const std::array<cv::Point2f, 4>& quad) {
  FEDSIGN_CHECK(background.type() == CV_8UC3, "composite: background must be 8-bit BGR");
  FEDSIGN_CHECK(sign_bgra.type() == CV_8UC4, "composite: sign must be 8-bit BGRA");
  const float w = static_cast<float>(sign_bgra.cols), h = static_cast<float>(sign_bgra.rows);
  const cv::Point2f src[4] = {{0, 0}, {w, 0}, {w, h}, {0, h}};
  const cv::Point2f dst[4] = {quad[0], quad[1], quad[2], quad[3]};
  const cv::Mat m = cv::getPerspectiveTransform(src, dst);
  cv::Mat warped;
  cv::warpPerspective(sign_bgra, warped, m, background.size(), cv::INTER_LINEAR,
                      cv::BORDER_CONSTANT, cv::Scalar(0, 0, 0, 0));
  cv::Mat channels[4];
  cv::split(warped, channels);
  cv::Mat alpha;
  channels[3].convertTo(alpha, CV_32F, 1.0 / 255.0);
  cv::Mat alpha3, sign, bg;
  cv::cvtColor(alpha, alpha3, cv::COLOR_GRAY2BGR);
  cv::merge(channels, 3, sign);
  sign.convertTo(sign, CV_32FC3);
  background.convertTo(bg, CV_32FC3);
  cv::Mat blended = bg + (sign - bg).mul(alpha3);
  blended.convertTo(background, CV_8UC3);
  return channels[3];
}

}  // namespace fedsign::vision
