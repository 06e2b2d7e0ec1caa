// Sign pictograms (GTSRB `Meta/<class>.png`, RGBA) and the two primitives every synthetic-image
// generator needs: give a pictogram a worn, real-world appearance (render_sign) and paste it onto
// any background through a quadrilateral (composite). The GTSRB crop generator (synth.h) uses
// them on small crops; a scene generator for a detector can use them on full street images.
//
// Images are OpenCV BGR/BGRA 8-bit. Functions are pure given their RNG; thread-safe for
// distinct arguments.
#pragma once

#include <opencv2/core.hpp>

#include <array>
#include <filesystem>
#include <random>
#include <vector>

namespace fedsign::vision {

struct Pictogram {
  int class_id = -1;
  cv::Mat bgra;        // cropped to the sign's visible extent (alpha > 0), CV_8UC4
  int shape_id = -1;   // Meta.csv ShapeId (0 triangle, 1 circle, 2 diamond, 3 hexagon, 4 inverse
                       // triangle) when known, else -1
  int color_id = -1;   // Meta.csv ColorId (0 red, 1 blue, 2 yellow, 3 white) when known, else -1
};

// The Meta/ folder of a GTSRB download: `dir` itself if it holds <class>.png files, else the
// first `Meta` folder found under `dir` (depth <= 3). Throws fedsign::Error if there is none.
std::filesystem::path find_meta_dir(const std::filesystem::path& dir);

// Loads <class>.png for class 0..num_classes-1 from a Meta folder (and ShapeId/ColorId from a
// Meta.csv beside or above it, if present). Result index == class id. Throws fedsign::Error
// naming a missing or undecodable pictogram. Images without alpha get an alpha from
// non-white pixels.
std::vector<Pictogram> load_pictograms(const std::filesystem::path& meta_dir,
                                       int num_classes = 43);

// How a physical sign looks: worn paint, dirt, light colour. All in [0, 1] unless noted.
struct SignAppearance {
  double fade = 0.0;              // blend towards a washed-out version (sun-bleached paint)
  double dirt = 0.0;              // coverage of dark dirt speckles
  double color_temperature = 0.0; // -1 cool (blue) .. +1 warm (yellow)
  double saturation = 1.0;        // multiplier
  int side = 0;                   // output side in pixels (0: the pictogram's own size)
  // The sign in its other official design, where GTSRB's pictogram differs from the signs it
  // photographed: speed limits (0-5, 7, 8) with the number in a narrow upright face (DIN 1451),
  // Pedestrians (27) with the upright walker of the older sign 133. No effect on other classes.
  bool alternate_design = false;
};

// Draws a random appearance: mild on average, occasionally strong.
SignAppearance random_appearance(std::mt19937_64& rng);

// The pictogram with `appearance` applied: BGRA (alpha = sign mask), square `side` if given.
cv::Mat render_sign(const Pictogram& pictogram, const SignAppearance& appearance,
                    std::mt19937_64& rng);

// The quadrilateral (top-left, top-right, bottom-right, bottom-left) of a sign of side `size`
// centred at `center`, rotated in-plane by `rotate_degrees` and seen at a perspective slant of
// `yaw` / `pitch` (fractions of the side by which the far edge shrinks, 0 = frontal).
std::array<cv::Point2f, 4> sign_quad(cv::Point2f center, float size, float rotate_degrees,
                                     float yaw, float pitch);

// Warps `sign_bgra` onto `quad` of `background` (BGR, modified in place) with alpha blending and
// anti-aliased edges. Returns the warped coverage mask (CV_8U, background size).
cv::Mat composite(cv::Mat& background, const cv::Mat& sign_bgra,
                  const std::array<cv::Point2f, 4>& quad);

// Bounding box (inclusive pixel coordinates, clipped to the image) of mask > 0.
cv::Rect mask_bounds(const cv::Mat& mask);

}  // namespace fedsign::vision
