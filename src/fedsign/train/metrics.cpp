#include "fedsign/train/metrics.h"

#include <algorithm>
#include <numeric>

#include "fedsign/core/check.h"

namespace fedsign::train {

ClassificationReport classification_report(const std::vector<int>& truth,
                                           const std::vector<int>& predicted, int num_classes) {
  FEDSIGN_CHECK(truth.size() == predicted.size(), "metrics: {} labels but {} predictions",
                truth.size(), predicted.size());
  ClassificationReport r;
  r.num_classes = num_classes;
  r.total = static_cast<int64_t>(truth.size());
  r.confusion.assign(num_classes, std::vector<int64_t>(num_classes, 0));
  r.support.assign(num_classes, 0);
  int64_t correct = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    FEDSIGN_CHECK(truth[i] >= 0 && truth[i] < num_classes && predicted[i] >= 0 &&
                      predicted[i] < num_classes,
                  "metrics: label {} or prediction {} outside 0..{}", truth[i], predicted[i],
                  num_classes - 1);
    ++r.confusion[truth[i]][predicted[i]];
    ++r.support[truth[i]];
    correct += truth[i] == predicted[i];
  }
  r.accuracy = r.total ? static_cast<double>(correct) / r.total : 0.0;
  r.precision.assign(num_classes, 0.0);
  r.recall.assign(num_classes, 0.0);
  double recall_sum = 0;
  int present = 0;
  for (int c = 0; c < num_classes; ++c) {
    int64_t predicted_c = 0;
    for (int t = 0; t < num_classes; ++t) predicted_c += r.confusion[t][c];
    const int64_t tp = r.confusion[c][c];
    if (predicted_c) r.precision[c] = static_cast<double>(tp) / predicted_c;
    if (r.support[c]) {
      r.recall[c] = static_cast<double>(tp) / r.support[c];
      recall_sum += r.recall[c];
      ++present;
    }
  }
  r.macro_accuracy = present ? recall_sum / present : 0.0;
  return r;
}

std::vector<int> ClassificationReport::worst_classes(int count) const {
  std::vector<int> classes;
  for (int c = 0; c < num_classes; ++c) {
    if (support[c]) classes.push_back(c);
  }
  std::stable_sort(classes.begin(), classes.end(),
                   [this](int a, int b) { return recall[a] < recall[b]; });
  if (static_cast<int>(classes.size()) > count) classes.resize(count);
  return classes;
}

}  // namespace fedsign::train
