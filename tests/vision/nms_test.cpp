// IoU, non-maximum suppression and detection matching.
#include "fedsign/vision/nms.h"

#include <gtest/gtest.h>

namespace fedsign::vision {
namespace {

TEST(Iou, KnownOverlaps) {
  EXPECT_DOUBLE_EQ(iou({0, 0, 10, 10}, {0, 0, 10, 10}), 1.0);
  EXPECT_DOUBLE_EQ(iou({0, 0, 10, 10}, {5, 0, 10, 10}), 50.0 / 150.0);
  EXPECT_DOUBLE_EQ(iou({0, 0, 10, 10}, {20, 20, 5, 5}), 0.0);
  EXPECT_DOUBLE_EQ(iou({0, 0, 10, 10}, {10, 0, 10, 10}), 0.0);  // touching edges
  EXPECT_DOUBLE_EQ(iou({0, 0, 0, 0}, {0, 0, 0, 0}), 0.0);
  EXPECT_DOUBLE_EQ(iou({0, 0, 10, 10}, {2, 2, 5, 5}), 25.0 / 100.0);
}

TEST(Nms, KeepsTheBestOfOverlappingBoxes) {
  const std::vector<Detection> d = {
      {{0, 0, 10, 10}, 1, 0.6f}, {{1, 1, 10, 10}, 1, 0.9f}, {{50, 50, 10, 10}, 1, 0.5f}};
  const auto kept = non_max_suppression(d, 0.4);
  EXPECT_EQ(kept, (std::vector<std::size_t>{1, 2}));
}

TEST(Nms, ClassAwareKeepsOverlapsOfOtherClasses) {
  const std::vector<Detection> d = {{{0, 0, 10, 10}, 1, 0.6f}, {{1, 1, 10, 10}, 2, 0.9f}};
  EXPECT_EQ(non_max_suppression(d, 0.4, true).size(), 2u);
  EXPECT_EQ(non_max_suppression(d, 0.4, false), (std::vector<std::size_t>{1}));
  EXPECT_EQ(suppress(d, 0.4, false).front().class_id, 2);
}

TEST(Nms, ThresholdIsStrict) {
  // IoU exactly 1/3: kept at threshold 1/3 (only IoU > threshold suppresses).
  const std::vector<Detection> d = {{{0, 0, 10, 10}, 0, 0.9f}, {{5, 0, 10, 10}, 0, 0.8f}};
  EXPECT_EQ(non_max_suppression(d, 50.0 / 150.0).size(), 2u);
  EXPECT_EQ(non_max_suppression(d, 0.3).size(), 1u);
  EXPECT_TRUE(non_max_suppression({}, 0.5).empty());
}

TEST(Match, CountsTruePositivesFalsePositivesAndMisses) {
  const std::vector<Detection> truth = {{{0, 0, 20, 20}, 3, 1}, {{100, 100, 20, 20}, 5, 1},
                                        {{200, 0, 20, 20}, 7, 1}};
  const std::vector<Detection> found = {
      {{1, 1, 20, 20}, 3, 0.9f},     // right box, right class
      {{101, 99, 20, 20}, 4, 0.8f},  // right box, wrong class
      {{2, 2, 20, 20}, 3, 0.7f},     // duplicate of the first: a false positive
      {{300, 300, 20, 20}, 1, 0.6f}  // nothing there
  };
  const auto agnostic = match_detections(truth, found, 0.5, false);
  EXPECT_EQ(agnostic.true_positives, 2);
  EXPECT_EQ(agnostic.false_positives, 2);
  EXPECT_EQ(agnostic.false_negatives, 1);
  EXPECT_DOUBLE_EQ(agnostic.precision(), 0.5);
  EXPECT_DOUBLE_EQ(agnostic.recall(), 2.0 / 3.0);
  const auto aware = match_detections(truth, found, 0.5, true);
  EXPECT_EQ(aware.true_positives, 1);
  EXPECT_EQ(aware.false_positives, 3);
  EXPECT_EQ(aware.false_negatives, 2);
  MatchCounts sum = agnostic;
  sum += aware;
  EXPECT_EQ(sum.true_positives, 3);
  EXPECT_DOUBLE_EQ(MatchCounts{}.precision(), 1.0);
  EXPECT_DOUBLE_EQ(MatchCounts{}.recall(), 1.0);
}

}  // namespace
}  // namespace fedsign::vision
