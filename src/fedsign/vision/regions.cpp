#include "fedsign/vision/regions.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <map>

#include "fedsign/core/check.h"

namespace fedsign::vision {

std::string to_string(SignColor color) {
  switch (color) {
    case SignColor::kRed: return "red";
    case SignColor::kBlue: return "blue";
    case SignColor::kYellow: return "yellow";
    case SignColor::kWhite: return "white";
  }
  return "?";
}

std::string to_string(SignShape shape) {
  switch (shape) {
    case SignShape::kCircle: return "circle";
    case SignShape::kTriangle: return "triangle";
    case SignShape::kOctagon: return "octagon";
    case SignShape::kDiamond: return "diamond";
  }
  return "?";
}

cv::Mat color_mask(const cv::Mat& hsv, SignColor color, const RegionOptions& o) {
  FEDSIGN_CHECK(hsv.type() == CV_8UC3, "color_mask: expected an 8-bit HSV image");
  const int s = o.min_saturation, v = o.min_value;
  cv::Mat mask;
  switch (color) {
    case SignColor::kRed: {
      cv::Mat low, high;
      cv::inRange(hsv, cv::Scalar(0, s, v), cv::Scalar(10, 255, 255), low);
      cv::inRange(hsv, cv::Scalar(165, s, v), cv::Scalar(180, 255, 255), high);
      mask = low | high;
      break;
    }
    case SignColor::kBlue:
      cv::inRange(hsv, cv::Scalar(95, s + 20, v - 10), cv::Scalar(130, 255, 255), mask);
      break;
    case SignColor::kYellow:
      cv::inRange(hsv, cv::Scalar(15, s + 20, v + 40), cv::Scalar(35, 255, 255), mask);
      break;
    case SignColor::kWhite:
      cv::inRange(hsv, cv::Scalar(0, 0, o.white_min_value),
                  cv::Scalar(180, o.white_max_saturation, 255), mask);
      break;
  }
  return mask;
}

std::optional<SignShape> classify_shape(const std::vector<cv::Point>& contour,
                                        const RegionOptions& o) {
  if (contour.size() < 3) return std::nullopt;
  std::vector<cv::Point> hull;
  cv::convexHull(contour, hull);
  const double area = cv::contourArea(contour);
  const double hull_area = cv::contourArea(hull);
  if (hull_area <= 0 || area / hull_area < o.min_solidity) return std::nullopt;
  const double perimeter = cv::arcLength(hull, true);
  const double circularity = 4 * CV_PI * hull_area / (perimeter * perimeter);
  std::vector<cv::Point> coarse, fine;
  cv::approxPolyDP(hull, coarse, 0.04 * perimeter, true);
  cv::approxPolyDP(hull, fine, 0.01 * perimeter, true);
  const cv::Rect box = cv::boundingRect(hull);
  const double fill = hull_area / std::max(1.0, static_cast<double>(box.area()));
  if (coarse.size() == 3 && fill > 0.35 && fill < 0.7) return SignShape::kTriangle;
  if (coarse.size() == 4 && fill > 0.35 && fill < 0.7) return SignShape::kDiamond;
  if (circularity >= o.min_circularity && fill > 0.65) {
    return fine.size() == 8 ? SignShape::kOctagon : SignShape::kCircle;
  }
  // Rounded triangles approximate to more than three vertices; their fill gives them away.
  if (circularity > 0.5 && circularity < 0.72 && fill > 0.4 && fill < 0.65 &&
      coarse.size() <= 6) {
    return SignShape::kTriangle;
  }
  return std::nullopt;
}

cv::Rect pad_box(const cv::Rect& box, double fraction, const cv::Size& bounds) {
  const int dx = static_cast<int>(std::lround(box.width * fraction));
  const int dy = static_cast<int>(std::lround(box.height * fraction));
  const cv::Rect grown(box.x - dx, box.y - dy, box.width + 2 * dx, box.height + 2 * dy);
  return grown & cv::Rect(0, 0, bounds.width, bounds.height);
}

namespace {

struct Piece {
  std::vector<cv::Point> contour;
  cv::Rect box;
  double area = 0;
  bool proposed = false;  // already a candidate on its own
};

bool fits(const cv::Rect& box, double max_side, const RegionOptions& o) {
  const int lo = std::min(box.width, box.height), hi = std::max(box.width, box.height);
  return lo >= o.min_side && hi <= max_side && hi <= o.max_aspect * lo;
}

// Groups of 1..max_pieces nearby pieces (connected through gaps of at most piece_gap of the
// smaller box) whose convex hull is a circle they fill well: one sign cut into, or cut apart,
// by its white symbol.
void propose_merged(const std::vector<Piece>& pieces, SignColor color, double max_side,
                    const RegionOptions& o, std::vector<Region>& out) {
  const std::size_t n = pieces.size();
  std::vector<std::size_t> group(n);
  for (std::size_t i = 0; i < n; ++i) group[i] = i;
  const auto root = [&](std::size_t i) {
    while (group[i] != i) i = group[i] = group[group[i]];
    return i;
  };
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) {
      const cv::Rect &a = pieces[i].box, &b = pieces[j].box;
      const int gap = static_cast<int>(
          o.piece_gap * std::min(std::max(a.width, a.height), std::max(b.width, b.height)));
      const cv::Rect grown(a.x - gap, a.y - gap, a.width + 2 * gap, a.height + 2 * gap);
      if ((grown & b).area() > 0) group[root(i)] = root(j);
    }
  }
  std::map<std::size_t, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < n; ++i) groups[root(i)].push_back(i);
  for (const auto& [r, members] : groups) {
    if (static_cast<int>(members.size()) > o.max_pieces) continue;
    if (members.size() == 1 && pieces[members[0]].proposed) continue;
    std::vector<cv::Point> points;
    double area = 0;
    for (std::size_t i : members) {
      points.insert(points.end(), pieces[i].contour.begin(), pieces[i].contour.end());
      area += pieces[i].area;
    }
    std::vector<cv::Point> hull;
    cv::convexHull(points, hull);
    const cv::Rect box = cv::boundingRect(hull);
    if (!fits(box, max_side, o) || area < o.min_piece_fill * cv::contourArea(hull)) continue;
    const auto shape = classify_shape(hull, o);
    if (shape == SignShape::kCircle) out.push_back({box, color, *shape});
  }
}

}  // namespace

std::vector<Region> propose_regions(const cv::Mat& bgr, const RegionOptions& o) {
  FEDSIGN_CHECK(bgr.type() == CV_8UC3, "propose_regions: expected a BGR 8-bit image");
  cv::Mat hsv;
  cv::cvtColor(bgr, hsv, cv::COLOR_BGR2HSV);
  const double max_side = o.max_side_fraction * std::min(bgr.cols, bgr.rows);
  const cv::Mat kernel =
      cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(o.close_kernel, o.close_kernel));
  // What differs between the colours. Blue and white signs are filled discs, and a blue sky or
  // a bright road near the threshold speckles their masks: opening first keeps the speckle from
  // bridging to a sign (red rims are too thin to open safely). Red, blue and white discs get the
  // second try from pieces; yellow diamonds never break apart. White means a sign only as a
  // circle (the "end of" signs).
  struct ColorRule {
    SignColor color;
    bool open, pieces, circles_only;
  };
  std::vector<ColorRule> rules = {{SignColor::kRed, false, true, false},
                                  {SignColor::kBlue, true, true, false},
                                  {SignColor::kYellow, false, false, false}};
  if (o.white_signs) rules.push_back({SignColor::kWhite, true, true, true});
  std::vector<Region> regions, white;
  for (const ColorRule& rule : rules) {
    const SignColor color = rule.color;
    std::vector<Region>& out = color == SignColor::kWhite ? white : regions;
    cv::Mat mask = color_mask(hsv, color, o);
    if (rule.open && o.open_speckle) cv::morphologyEx(mask, mask, cv::MORPH_OPEN, kernel);
    if (o.close_kernel > 1) cv::morphologyEx(mask, mask, cv::MORPH_CLOSE, kernel);
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(mask, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    std::vector<Piece> pieces;  // maybe part of a sign
    for (auto& contour : contours) {
      cv::Rect box = cv::boundingRect(contour);
      std::optional<SignShape> shape;
      if (fits(box, max_side, o)) shape = classify_shape(contour, o);
      if (shape && rule.circles_only && *shape != SignShape::kCircle) shape.reset();
      if (shape) {
        if (*shape == SignShape::kDiamond && color == SignColor::kYellow) {
          box = pad_box(box, (o.diamond_grow - 1) / 2, bgr.size());
        }
        out.push_back({box, color, *shape});
      }
      const int side = std::max(box.width, box.height);
      if (rule.pieces && o.max_pieces >= 1 && side >= o.min_side / 2 && side <= max_side) {
        const double area = cv::contourArea(contour);
        pieces.push_back({std::move(contour), box, area, shape.has_value()});
      }
    }
    propose_merged(pieces, color, max_side, o, out);
  }
  // White circles inside or around a coloured candidate are parts of that sign.
  for (const Region& w : white) {
    const bool part_of_sign = std::any_of(regions.begin(), regions.end(), [&](const Region& r) {
      const double overlap = (w.box & r.box).area();
      return overlap > 0.5 * std::min(w.box.area(), r.box.area());
    });
    if (!part_of_sign) regions.push_back(w);
  }
  return regions;
}

}  // namespace fedsign::vision
