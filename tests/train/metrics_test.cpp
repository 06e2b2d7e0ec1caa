#include "fedsign/train/metrics.h"

#include <gtest/gtest.h>

namespace fedsign::train {
namespace {

TEST(Metrics, HandComputedReport) {
  // class 0: 3 examples, 2 right; class 1: 1 example, right; class 2: 2 examples, 0 right.
  const std::vector<int> truth = {0, 0, 0, 1, 2, 2};
  const std::vector<int> pred = {0, 0, 1, 1, 0, 1};
  const auto r = classification_report(truth, pred, 3);
  EXPECT_DOUBLE_EQ(r.accuracy, 3.0 / 6);
  EXPECT_DOUBLE_EQ(r.recall[0], 2.0 / 3);
  EXPECT_DOUBLE_EQ(r.recall[1], 1.0);
  EXPECT_DOUBLE_EQ(r.recall[2], 0.0);
  EXPECT_DOUBLE_EQ(r.macro_accuracy, (2.0 / 3 + 1.0 + 0.0) / 3);
  EXPECT_DOUBLE_EQ(r.precision[0], 2.0 / 3);  // predicted 0 three times, 2 right
  EXPECT_DOUBLE_EQ(r.precision[1], 1.0 / 3);
  EXPECT_DOUBLE_EQ(r.precision[2], 0.0);
  EXPECT_EQ(r.confusion[2][1], 1);
  EXPECT_EQ(r.confusion[0][0], 2);
  EXPECT_EQ(r.worst_classes(2), (std::vector<int>{2, 0}));
}

TEST(Metrics, RejectsMismatchedOrOutOfRange) {
  EXPECT_THROW(classification_report({0, 1}, {0}, 2), std::exception);
  EXPECT_THROW(classification_report({0, 5}, {0, 1}, 2), std::exception);
}

}  // namespace
}  // namespace fedsign::train
