// Box arithmetic for detection: intersection over union, (class-aware) non-maximum suppression
// and matching detections to ground truth for precision/recall. Pure functions; thread-safe.
#pragma once

#include <opencv2/core/types.hpp>

#include <cstdint>
#include <vector>

namespace fedsign::vision {

struct Detection {
  cv::Rect box;        // pixels, x/y/width/height
  int class_id = -1;   // -1: unknown / class-agnostic
  float score = 0.0f;  // confidence
};

// Intersection area / union area; 0 for disjoint or empty boxes.
double iou(const cv::Rect& a, const cv::Rect& b);

// Greedy NMS: keeps the highest-scoring box and drops every other box that overlaps a kept one
// by IoU > iou_threshold (only boxes of the same class when class_aware). Returns the indices
// kept, by descending score (ties by index).
std::vector<std::size_t> non_max_suppression(const std::vector<Detection>& detections,
                                             double iou_threshold, bool class_aware = true);

// The kept detections themselves.
std::vector<Detection> suppress(const std::vector<Detection>& detections, double iou_threshold,
                                bool class_aware = true);

struct MatchCounts {
  int64_t true_positives = 0;
  int64_t false_positives = 0;
  int64_t false_negatives = 0;
  double precision() const;  // 1 when nothing was detected
  double recall() const;     // 1 when there was nothing to find
  MatchCounts& operator+=(const MatchCounts& other);
};

// Greedy matching by descending score: a detection is a true positive if it overlaps a still
// unmatched truth box by IoU >= iou_threshold (and, when class_aware, has its class).
MatchCounts match_detections(const std::vector<Detection>& truth,
                             const std::vector<Detection>& detections, double iou_threshold = 0.5,
                             bool class_aware = false);

}  // namespace fedsign::vision
