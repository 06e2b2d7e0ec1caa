// Colour/shape region proposals on drawn scenes: a red circle sign on grey is found tightly,
// blue/yellow/triangle/octagon shapes are recognized, and sign-coloured rectangles are not.
#include "fedsign/vision/regions.h"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include <cmath>

#include "fedsign/vision/nms.h"

namespace fedsign::vision {
namespace {

const cv::Scalar kRed(40, 30, 210), kBlue(200, 90, 20), kYellow(20, 200, 240);
const cv::Scalar kWhite(245, 245, 245), kGrey(128, 128, 128);

cv::Mat grey(int w = 320, int h = 240) { return cv::Mat(h, w, CV_8UC3, kGrey); }

// A prohibition sign: red ring, white inside.
void draw_red_circle_sign(cv::Mat& image, cv::Point centre, int radius) {
  cv::circle(image, centre, radius, kRed, cv::FILLED, cv::LINE_AA);
  cv::circle(image, centre, static_cast<int>(radius * 0.75), kWhite, cv::FILLED, cv::LINE_AA);
}

std::vector<cv::Point> polygon(cv::Point centre, int radius, int sides, double start_degrees) {
  std::vector<cv::Point> points;
  for (int i = 0; i < sides; ++i) {
    const double a = (start_degrees + 360.0 * i / sides) * CV_PI / 180.0;
    points.emplace_back(centre.x + static_cast<int>(std::lround(radius * std::cos(a))),
                        centre.y + static_cast<int>(std::lround(radius * std::sin(a))));
  }
  return points;
}

TEST(Regions, RedCircleSignOnGreyIsFound) {
  cv::Mat image = grey();
  draw_red_circle_sign(image, {150, 100}, 25);
  const cv::Rect truth(125, 75, 51, 51);
  const auto regions = propose_regions(image);
  ASSERT_EQ(regions.size(), 1u);
  EXPECT_GT(iou(regions[0].box, truth), 0.8) << regions[0].box;
  EXPECT_EQ(regions[0].color, SignColor::kRed);
  EXPECT_EQ(regions[0].shape, SignShape::kCircle);
}

TEST(Regions, ShapesAndColours) {
  cv::Mat image = grey(640, 240);
  cv::circle(image, {60, 80}, 22, kBlue, cv::FILLED, cv::LINE_AA);                  // mandatory
  const auto triangle = polygon({180, 90}, 30, 3, -90);
  cv::fillConvexPoly(image, triangle, kRed, cv::LINE_AA);                           // warning
  cv::fillConvexPoly(image, polygon({180, 90}, 17, 3, -90), kWhite, cv::LINE_AA);
  cv::fillConvexPoly(image, polygon({320, 90}, 30, 8, 22.5), kRed, cv::LINE_AA);    // stop
  cv::fillConvexPoly(image, polygon({460, 90}, 30, 4, 0), kYellow, cv::LINE_AA);    // priority
  auto regions = propose_regions(image);
  std::sort(regions.begin(), regions.end(),
            [](const Region& a, const Region& b) { return a.box.x < b.box.x; });
  ASSERT_EQ(regions.size(), 4u);
  EXPECT_EQ(regions[0].color, SignColor::kBlue);
  EXPECT_EQ(regions[0].shape, SignShape::kCircle);
  EXPECT_EQ(regions[1].shape, SignShape::kTriangle);
  EXPECT_EQ(regions[2].shape, SignShape::kOctagon);
  EXPECT_EQ(regions[3].color, SignColor::kYellow);
  EXPECT_EQ(regions[3].shape, SignShape::kDiamond);
}

// Mandatory signs whose white symbol reaches the rim, or that a pole cuts in two, are no longer
// solid blue blobs; they are found as the hull of their pieces.
TEST(Regions, BlueSignsCutByTheirArrowOrAPoleAreFound) {
  cv::Mat image = grey(480, 240);
  // "Go straight or right": the arrow's stem runs down to the rim (a deep notch).
  cv::circle(image, {100, 110}, 40, kBlue, cv::FILLED, cv::LINE_AA);
  cv::rectangle(image, cv::Rect(94, 90, 12, 65), kWhite, cv::FILLED);
  cv::fillConvexPoly(image, std::vector<cv::Point>{{84, 95}, {116, 95}, {100, 78}}, kWhite);
  cv::rectangle(image, cv::Rect(100, 105, 25, 12), kWhite, cv::FILLED);
  // "Keep right" behind a grey pole: two blue halves.
  cv::circle(image, {300, 110}, 40, kBlue, cv::FILLED, cv::LINE_AA);
  cv::line(image, {300, 0}, {300, 239}, kGrey, 6);
  const auto regions = propose_regions(image);
  for (const cv::Rect truth : {cv::Rect(60, 70, 81, 81), cv::Rect(260, 70, 81, 81)}) {
    double best = 0;
    for (const auto& r : regions) {
      if (r.color == SignColor::kBlue && r.shape == SignShape::kCircle) best = std::max(best, iou(r.box, truth));
    }
    EXPECT_GT(best, 0.8) << truth << " " << [&] { std::string t; for (const auto& r : regions) t += std::to_string(r.box.x) + "," + std::to_string(r.box.y) + "," + std::to_string(r.box.width) + "," + std::to_string(r.box.height) + " " + to_string(r.color) + " " + to_string(r.shape) + "; "; return t; }();
  }
  // Without the second try (max_pieces 0) neither is proposed.
  RegionOptions single;
  single.max_pieces = 0;
  for (const auto& r : propose_regions(image, single)) {
    EXPECT_LT(iou(r.box, cv::Rect(60, 70, 81, 81)), 0.5);
    EXPECT_LT(iou(r.box, cv::Rect(260, 70, 81, 81)), 0.5);
  }
  // Two separate blue discs side by side stay two proposals, not one merged blob.
  cv::Mat pair = grey(320, 160);
  cv::circle(pair, {100, 80}, 30, kBlue, cv::FILLED, cv::LINE_AA);
  cv::circle(pair, {170, 80}, 30, kBlue, cv::FILLED, cv::LINE_AA);
  for (const auto& r : propose_regions(pair)) EXPECT_LT(r.box.width, 75) << r.box;
}

// "End of no passing": a white disc with a thin grey rim, crossed by black stripes. Proposed as
// a white circle; the white face of a red-ringed sign is not proposed a second time.
TEST(Regions, WhiteEndOfSignsAreProposed) {
  cv::Mat image = grey(400, 200);
  cv::circle(image, {100, 100}, 40, cv::Scalar(90, 90, 90), cv::FILLED, cv::LINE_AA);
  cv::circle(image, {100, 100}, 38, kWhite, cv::FILLED, cv::LINE_AA);
  for (int d : {-6, 0, 6}) cv::line(image, {72 + d, 128 + d}, {128 + d, 72 + d}, cv::Scalar(20, 20, 20), 2);
  draw_red_circle_sign(image, {280, 100}, 40);
  const auto regions = propose_regions(image);
  ASSERT_EQ(regions.size(), 2u);
  const Region& end_sign = regions[0].color == SignColor::kWhite ? regions[0] : regions[1];
  EXPECT_EQ(end_sign.color, SignColor::kWhite);
  EXPECT_EQ(end_sign.shape, SignShape::kCircle);
  EXPECT_GT(iou(end_sign.box, cv::Rect(61, 61, 79, 79)), 0.8) << end_sign.box;
  RegionOptions no_white;
  no_white.white_signs = false;
  ASSERT_EQ(propose_regions(image, no_white).size(), 1u);
  EXPECT_EQ(propose_regions(image, no_white)[0].color, SignColor::kRed);
  // A white rectangle (a road marking, a van) is not a sign.
  cv::Mat marking = grey();
  cv::rectangle(marking, cv::Rect(40, 120, 150, 30), kWhite, cv::FILLED);
  EXPECT_TRUE(propose_regions(marking).empty());
}

TEST(Regions, RejectsRectanglesTinyBlobsAndGreyScenes) {
  EXPECT_TRUE(propose_regions(grey()).empty());
  cv::Mat image = grey();
  cv::rectangle(image, cv::Rect(20, 20, 120, 40), kRed, cv::FILLED);  // a red shop front
  cv::circle(image, {250, 150}, 4, kBlue, cv::FILLED);                 // too small
  cv::line(image, {10, 200}, {300, 205}, kYellow, 3);                  // a stripe
  EXPECT_TRUE(propose_regions(image).empty());
}

TEST(Regions, PadBoxClipsToTheImage) {
  EXPECT_EQ(pad_box({10, 10, 20, 20}, 0.1, {100, 100}), cv::Rect(8, 8, 24, 24));
  EXPECT_EQ(pad_box({0, 0, 20, 20}, 0.5, {25, 25}), cv::Rect(0, 0, 25, 25));
}

TEST(Regions, ColourMasks) {
  cv::Mat image = grey(30, 10);
  image(cv::Rect(0, 0, 10, 10)).setTo(kRed);
  image(cv::Rect(10, 0, 10, 10)).setTo(kBlue);
  image(cv::Rect(20, 0, 10, 10)).setTo(kYellow);
  cv::Mat hsv;
  cv::cvtColor(image, hsv, cv::COLOR_BGR2HSV);
  EXPECT_EQ(cv::countNonZero(color_mask(hsv, SignColor::kRed)), 100);
  EXPECT_EQ(cv::countNonZero(color_mask(hsv, SignColor::kBlue)), 100);
  EXPECT_EQ(cv::countNonZero(color_mask(hsv, SignColor::kYellow)), 100);
  EXPECT_EQ(cv::countNonZero(color_mask(hsv, SignColor::kRed)(cv::Rect(10, 0, 20, 10))), 0);
}

}  // namespace
}  // namespace fedsign::vision
