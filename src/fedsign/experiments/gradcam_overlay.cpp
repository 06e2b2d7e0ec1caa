#include "fedsign/experiments/gradcam_overlay.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>

#include "fedsign/core/check.h"

namespace fedsign::experiments {

cv::Mat overlay_heatmap(const cv::Mat& bgr, const cv::Mat& heat, double alpha) {
  FEDSIGN_CHECK(bgr.type() == CV_8UC3, "overlay: expected a BGR 8-bit image");
  FEDSIGN_CHECK(heat.type() == CV_32F, "overlay: expected a float heatmap");
  cv::Mat resized, heat8, colour, out;
  cv::resize(heat, resized, bgr.size(), 0, 0, cv::INTER_LINEAR);
  resized.convertTo(heat8, CV_8U, 255.0);
  cv::applyColorMap(heat8, colour, cv::COLORMAP_JET);
  cv::addWeighted(bgr, 1.0 - alpha, colour, alpha, 0.0, out);
  return out;
}

cv::Mat cam_tile(const cv::Mat& bgr, const cv::Mat& heat, const std::vector<std::string>& caption) {
  const cv::Mat overlay = overlay_heatmap(bgr, heat);
  constexpr int kLine = 14;
  const int strip = kLine * static_cast<int>(caption.size()) + (caption.empty() ? 0 : 4);
  cv::Mat tile(bgr.rows + strip, bgr.cols * 2, CV_8UC3, cv::Scalar(255, 255, 255));
  bgr.copyTo(tile(cv::Rect(0, 0, bgr.cols, bgr.rows)));
  overlay.copyTo(tile(cv::Rect(bgr.cols, 0, bgr.cols, bgr.rows)));
  for (std::size_t i = 0; i < caption.size(); ++i) {
    cv::putText(tile, caption[i], cv::Point(3, bgr.rows + kLine * static_cast<int>(i + 1)),
                cv::FONT_HERSHEY_SIMPLEX, 0.38, cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
  return tile;
}

cv::Mat tile_grid(const std::vector<cv::Mat>& tiles, int columns) {
  FEDSIGN_CHECK(!tiles.empty(), "tile_grid: no tiles");
  const int n = static_cast<int>(tiles.size());
  if (columns <= 0) columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(n))));
  columns = std::min(columns, n);
  const int rows = (n + columns - 1) / columns;
  int cell_w = 0, cell_h = 0;
  for (const auto& t : tiles) cell_w = std::max(cell_w, t.cols), cell_h = std::max(cell_h, t.rows);
  constexpr int kGap = 4;
  cv::Mat grid(rows * (cell_h + kGap) + kGap, columns * (cell_w + kGap) + kGap, CV_8UC3,
               cv::Scalar(255, 255, 255));
  for (int i = 0; i < n; ++i) {
    const int r = i / columns, c = i % columns;
    tiles[i].copyTo(grid(cv::Rect(kGap + c * (cell_w + kGap), kGap + r * (cell_h + kGap),
                                  tiles[i].cols, tiles[i].rows)));
  }
  return grid;
}

}  // namespace fedsign::experiments
