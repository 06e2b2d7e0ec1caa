// Drawing CAM heatmaps: JET-coloured overlays on the image, captioned tiles and a grid of
// tiles, all OpenCV BGR 8-bit. Pure functions; thread-safe.
#pragma once

#include <opencv2/core.hpp>

#include <string>
#include <vector>

namespace fedsign::experiments {

// `heat`: CV_32F in [0, 1] of any size (resized bilinearly to the image). Returns the image
// blended with the JET colour map of `heat` (weight `alpha` on the colour).
cv::Mat overlay_heatmap(const cv::Mat& bgr, const cv::Mat& heat, double alpha = 0.45);

// [image | overlay] side by side, with `caption` lines written in a strip below.
cv::Mat cam_tile(const cv::Mat& bgr, const cv::Mat& heat, const std::vector<std::string>& caption);

// Tiles (any sizes; each is placed in a cell of the largest size, white padding) in rows of
// `columns` (0: about square).
cv::Mat tile_grid(const std::vector<cv::Mat>& tiles, int columns = 0);

}  // namespace fedsign::experiments
