// Sign candidates in a whole street image, without learning: colour segmentation in HSV (red,
// blue, yellow), morphology, outer contours, and a shape filter (circle, triangle, octagon,
// diamond) by polygon approximation and circularity, with size and aspect limits. The
// classifier then reads each candidate (experiments/detector.h). Pure functions; thread-safe.
//
// A blue mandatory sign whose white arrow reaches the rim ("Go straight or right") is one deeply
// notched blue piece, or falls apart into two or three, none of them solid enough to pass as a
// circle: blobs that fail the shape filter are therefore tried again, alone and with nearby
// pieces of their colour, as the convex hull of their union, and proposed when that hull is a
// circle they fill well.
//
// The white "end of ..." signs (GTSRB classes 6, 32, 41, 42) have no saturated colour: bright,
// unsaturated circles are proposed too, unless they lie inside a coloured candidate (the white
// face of a prohibition sign, the rim of a mandatory one).
#pragma once

#include <opencv2/core.hpp>

#include <optional>
#include <string>
#include <vector>

namespace fedsign::vision {

enum class SignColor { kRed, kBlue, kYellow, kWhite };
enum class SignShape { kCircle, kTriangle, kOctagon, kDiamond };

std::string to_string(SignColor color);
std::string to_string(SignShape shape);

struct RegionOptions {
  int min_side = 14;                 // px, smaller blobs are noise
  double max_side_fraction = 0.6;    // of the image's shorter side
  double max_aspect = 1.8;           // of the box (long side / short side)
  int min_saturation = 70;           // HSV thresholds (OpenCV scale: H 0-180, S/V 0-255)
  int min_value = 50;
  int close_kernel = 3;              // morphological closing to join broken rims
  bool open_speckle = true;          // opening of the blue and white masks first (speckle)
  bool white_signs = true;           // also propose white circles ("end of ..." signs)
  int white_min_value = 150;         // white: V >= this and S <= white_max_saturation
  int white_max_saturation = 45;
  double min_solidity = 0.75;        // contour area / convex hull area
  double min_circularity = 0.75;     // 4 pi A / P^2 of the hull, for circles and octagons
  // The yellow of a priority-road diamond sits inside a white rim: its box is grown by this
  // factor about its centre to cover the whole sign.
  double diamond_grow = 1.3;
  // Pieces of one sign: boxes within this fraction of their size of each other, at most
  // max_pieces of them (0: no second try), together covering at least min_piece_fill of their
  // hull.
  double piece_gap = 0.15;
  int max_pieces = 8;  // the stripes of an "end of" sign cut it into up to ~7
  double min_piece_fill = 0.45;
};

struct Region {
  cv::Rect box;
  SignColor color = SignColor::kRed;
  SignShape shape = SignShape::kCircle;
};

// Binary mask (CV_8U 0/255) of the pixels of `color` in an HSV image (cv::COLOR_BGR2HSV).
cv::Mat color_mask(const cv::Mat& hsv, SignColor color, const RegionOptions& options = {});

// The sign shape an outer contour looks like, or nullopt if none (too concave, a rectangle...).
std::optional<SignShape> classify_shape(const std::vector<cv::Point>& contour,
                                        const RegionOptions& options = {});

// Candidate sign boxes in a BGR image, clipped to it; may overlap (run NMS afterwards).
std::vector<Region> propose_regions(const cv::Mat& bgr, const RegionOptions& options = {});

// `box` grown by `fraction` of its size on each side, clipped to `bounds`.
cv::Rect pad_box(const cv::Rect& box, double fraction, const cv::Size& bounds);

}  // namespace fedsign::vision
