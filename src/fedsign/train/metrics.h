// Classification metrics from label vectors: accuracy, macro accuracy, per-class precision and
// recall, confusion matrix. No LibTorch; used by evaluate, federated evaluation and reports.
#pragma once

#include <cstdint>
#include <vector>

namespace fedsign::train {

struct ClassificationReport {
  int num_classes = 0;
  int64_t total = 0;
  double accuracy = 0.0;
  double macro_accuracy = 0.0;  // mean of per-class recall over classes present in `truth`
  std::vector<double> precision, recall;  // per class; NaN-free: 0 where undefined
  std::vector<int64_t> support;           // true examples per class
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted]

  // Classes present in truth, sorted by recall ascending (ties by class id).
  std::vector<int> worst_classes(int count) const;
};

ClassificationReport classification_report(const std::vector<int>& truth,
                                           const std::vector<int>& predicted, int num_classes);

}  // namespace fedsign::train
