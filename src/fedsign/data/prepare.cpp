#include "fedsign/data/prepare.h"

#include <opencv2/imgproc.hpp>

#include <cstring>
#include <vector>

namespace fedsign::data {
namespace {

void normalize_contrast(cv::Mat& rgb, Contrast contrast) {
  if (contrast == Contrast::kNone) return;
  cv::Mat converted;
  std::vector<cv::Mat> channels;
  if (contrast == Contrast::kEqualize) {
    cv::cvtColor(rgb, converted, cv::COLOR_RGB2YCrCb);
    cv::split(converted, channels);
    cv::equalizeHist(channels[0], channels[0]);
    cv::merge(channels, converted);
    cv::cvtColor(converted, rgb, cv::COLOR_YCrCb2RGB);
  } else {
    static thread_local cv::Ptr<cv::CLAHE> clahe = cv::createCLAHE(2.0, cv::Size(4, 4));
    cv::cvtColor(rgb, converted, cv::COLOR_RGB2Lab);
    cv::split(converted, channels);
    clahe->apply(channels[0], channels[0]);
    cv::merge(channels, converted);
    cv::cvtColor(converted, rgb, cv::COLOR_Lab2RGB);
  }
}

}  // namespace

void prepare_crop(const cv::Mat& rgb, int size, Contrast contrast, std::uint8_t* out) {
  const bool shrinking = size <= rgb.cols && size <= rgb.rows;
  cv::Mat resized;
  cv::resize(rgb, resized, cv::Size(size, size), 0, 0,
             shrinking ? cv::INTER_AREA : cv::INTER_CUBIC);
  normalize_contrast(resized, contrast);
  if (!resized.isContinuous()) resized = resized.clone();
  std::memcpy(out, resized.data, static_cast<std::size_t>(size) * size * 3);
}

}  // namespace fedsign::data
