#include "fedsign/vision/nms.h"

#include <algorithm>
#include <numeric>

namespace fedsign::vision {
namespace {

std::vector<std::size_t> by_score(const std::vector<Detection>& detections) {
  std::vector<std::size_t> order(detections.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return detections[a].score > detections[b].score;
  });
  return order;
}

}  // namespace

double iou(const cv::Rect& a, const cv::Rect& b) {
  const double inter = (a & b).area();
  const double uni = static_cast<double>(a.area()) + b.area() - inter;
  return uni > 0 && inter > 0 ? inter / uni : 0.0;
}

std::vector<std::size_t> non_max_suppression(const std::vector<Detection>& detections,
                                             double iou_threshold, bool class_aware) {
  std::vector<std::size_t> kept;
  for (std::size_t i : by_score(detections)) {
    const bool overlaps = std::any_of(kept.begin(), kept.end(), [&](std::size_t k) {
      if (class_aware && detections[k].class_id != detections[i].class_id) return false;
      return iou(detections[k].box, detections[i].box) > iou_threshold;
    });
    if (!overlaps) kept.push_back(i);
  }
  return kept;
}

std::vector<Detection> suppress(const std::vector<Detection>& detections, double iou_threshold,
                                bool class_aware) {
  std::vector<Detection> out;
  for (std::size_t i : non_max_suppression(detections, iou_threshold, class_aware)) {
    out.push_back(detections[i]);
  }
  return out;
}

double MatchCounts::precision() const {
  const auto detected = true_positives + false_positives;
  return detected ? static_cast<double>(true_positives) / detected : 1.0;
}

double MatchCounts::recall() const {
  const auto present = true_positives + false_negatives;
  return present ? static_cast<double>(true_positives) / present : 1.0;
}

MatchCounts& MatchCounts::operator+=(const MatchCounts& other) {
  true_positives += other.true_positives;
  false_positives += other.false_positives;
  false_negatives += other.false_negatives;
  return *this;
}

MatchCounts match_detections(const std::vector<Detection>& truth,
                             const std::vector<Detection>& detections, double iou_threshold,
                             bool class_aware) {
  MatchCounts counts;
  std::vector<bool> matched(truth.size(), false);
  for (std::size_t d : by_score(detections)) {
    double best = 0.0;
    std::size_t best_truth = truth.size();
    for (std::size_t t = 0; t < truth.size(); ++t) {
      if (matched[t]) continue;
      if (class_aware && truth[t].class_id != detections[d].class_id) continue;
      const double overlap = iou(truth[t].box, detections[d].box);
      if (overlap >= iou_threshold && overlap > best) best = overlap, best_truth = t;
    }
    if (best_truth < truth.size()) {
      matched[best_truth] = true;
      ++counts.true_positives;
    } else {
      ++counts.false_positives;
    }
  }
  counts.false_negatives =
      static_cast<int64_t>(std::count(matched.begin(), matched.end(), false));
  return counts;
}

}  // namespace fedsign::vision
