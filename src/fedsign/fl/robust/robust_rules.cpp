#include "fedsign/fl/robust/robust_rules.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "fedsign/core/check.h"

namespace fedsign::fl::robust {

namespace {

// Throws unless there is at least one update and all are 1-D of one length; returns that length.
int64_t check_updates(const Updates& updates, const char* rule) {
  FEDSIGN_CHECK(!updates.empty(), "{}: no updates to combine", rule);
  const int64_t d = updates[0].numel();
  for (std::size_t i = 0; i < updates.size(); ++i) {
    FEDSIGN_CHECK(updates[i].dim() == 1 && updates[i].numel() == d,
                  "{}: update {} has {} values, update 0 has {}", rule, i, updates[i].numel(), d);
  }
  return d;
}

// Applies `column_rule` ([n, c] -> [c]) to chunks of columns of the stacked updates and
// concatenates the results, so only n x kColumnChunk values are stacked at a time.
template <typename Rule>
torch::Tensor columnwise(const Updates& updates, const char* name, Rule column_rule) {
  const int64_t d = check_updates(updates, name);
  torch::Tensor out = torch::empty({d}, torch::kFloat32);
  std::vector<torch::Tensor> rows(updates.size());
  for (int64_t start = 0; start < d; start += kColumnChunk) {
    const int64_t len = std::min(kColumnChunk, d - start);
    for (std::size_t i = 0; i < updates.size(); ++i) {
      rows[i] = updates[i].narrow(0, start, len).to(torch::kFloat32);
    }
    out.narrow(0, start, len).copy_(column_rule(torch::stack(rows)));
  }
  return out;
}

double l2_norm(const torch::Tensor& t) {
  return std::sqrt(t.to(torch::kFloat64).pow(2).sum().item<double>());
}

double dot64(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat64) * b.to(torch::kFloat64)).sum().item<double>();
}

// The example-weighted mean of updates[selected] (Multi-Krum, the cosine filter). Selected
// clients that all lack examples are averaged equally rather than fail.
torch::Tensor mean_of_selected(const Updates& updates, const std::vector<double>& weights,
                               const std::vector<int64_t>& selected) {
  Updates chosen;
  std::vector<double> chosen_weights;
  for (int64_t i : selected) {
    chosen.push_back(updates[static_cast<std::size_t>(i)]);
    chosen_weights.push_back(weights[static_cast<std::size_t>(i)]);
  }
  if (std::accumulate(chosen_weights.begin(), chosen_weights.end(), 0.0) <= 0) {
    std::fill(chosen_weights.begin(), chosen_weights.end(), 1.0);
  }
  return weighted_mean(chosen, chosen_weights);  // robust_rules.h
}

}  // namespace

torch::Tensor weighted_mean(const Updates& updates, const std::vector<double>& weights) {
  const int64_t d = check_updates(updates, "weighted mean");
  FEDSIGN_CHECK(weights.size() == updates.size(), "weighted mean: {} weights for {} updates",
                weights.size(), updates.size());
  const double total = std::accumulate(weights.begin(), weights.end(), 0.0);
  FEDSIGN_CHECK(total > 0, "weighted mean: total weight {} is not positive", total);
  torch::Tensor sum = torch::zeros({d}, torch::kFloat64);
  for (std::size_t i = 0; i < updates.size(); ++i) {
    FEDSIGN_CHECK(weights[i] >= 0, "weighted mean: weight {} of update {} < 0", weights[i], i);
    sum.add_(updates[i].to(torch::kFloat64), weights[i]);
  }
  return (sum / total).to(torch::kFloat32);
}

torch::Tensor coordinate_median(const Updates& updates) {
  return columnwise(updates, "median", [](const torch::Tensor& m) {
    const int64_t n = m.size(0);
    const torch::Tensor sorted = std::get<0>(m.sort(0));
    if (n % 2 == 1) return sorted[n / 2];
    // Even count: the mean of the two middle values, in float64 so that it is exact.
    return ((sorted[n / 2 - 1].to(torch::kFloat64) + sorted[n / 2].to(torch::kFloat64)) / 2)
        .to(torch::kFloat32);
  });
}

int64_t trimmed_count(int64_t n, double beta) {
  FEDSIGN_CHECK(beta >= 0 && beta < 0.5, "trimmed mean: beta {} not in [0, 0.5)", beta);
  const auto k = static_cast<int64_t>(std::floor(beta * static_cast<double>(n) + 1e-9));
  FEDSIGN_CHECK(n - 2 * k >= 1, "trimmed mean: trimming {} of {} updates from each side leaves none",
                k, n);
  return k;
}

torch::Tensor trimmed_mean(const Updates& updates, double beta) {
  const int64_t k = trimmed_count(static_cast<int64_t>(updates.size()), beta);
  return columnwise(updates, "trimmed mean", [k](const torch::Tensor& m) {
    const int64_t n = m.size(0);
    const torch::Tensor sorted = std::get<0>(m.sort(0));
    return sorted.narrow(0, k, n - 2 * k).to(torch::kFloat64).mean(0).to(torch::kFloat32);
  });
}

std::vector<double> krum_scores(const Updates& updates, int64_t f) {
  check_updates(updates, "Krum");
  const auto n = static_cast<int64_t>(updates.size());
  FEDSIGN_CHECK(f >= 0, "Krum: f = {} < 0", f);
  const int64_t neighbours = n - f - 2;
  FEDSIGN_CHECK(neighbours >= 1, "Krum: {} updates are too few for f = {} (need n - f - 2 >= 1)", n,
                f);
  std::vector<std::vector<double>> dist(n, std::vector<double>(n, 0.0));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = i + 1; j < n; ++j) {
      const torch::Tensor diff = updates[i].to(torch::kFloat64) - updates[j].to(torch::kFloat64);
      dist[i][j] = dist[j][i] = diff.pow(2).sum().item<double>();
    }
  }
  std::vector<double> scores(n);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> others;
    for (int64_t j = 0; j < n; ++j) {
      if (j != i) others.push_back(dist[i][j]);
    }
    std::partial_sort(others.begin(), others.begin() + neighbours, others.end());
    scores[i] = std::accumulate(others.begin(), others.begin() + neighbours, 0.0);
  }
  return scores;
}

KrumResult multi_krum(const Updates& updates, const std::vector<double>& weights, int64_t f,
                      int64_t m) {
  const std::vector<double> scores = krum_scores(updates, f);
  FEDSIGN_CHECK(weights.size() == updates.size(), "Multi-Krum: {} weights for {} updates",
                weights.size(), updates.size());
  const auto n = static_cast<int64_t>(updates.size());
  if (m <= 0) m = n - f;
  FEDSIGN_CHECK(m <= n, "Multi-Krum: cannot select m = {} of {} updates", m, n);
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return scores[a] < scores[b]; });
  KrumResult out;
  out.selected.assign(order.begin(), order.begin() + m);
  out.update = mean_of_selected(updates, weights, out.selected);
  return out;
}

double clip_factor(double norm, double bound) {
  FEDSIGN_CHECK(bound > 0, "clipping: bound {} must be positive", bound);
  return norm > bound ? bound / norm : 1.0;
}

torch::Tensor clip_to_norm(const torch::Tensor& update, double bound) {
  const double factor = clip_factor(l2_norm(update), bound);
  return factor == 1.0 ? update : update * factor;
}

double adaptive_clip_bound(double bound, double fraction_unclipped, double target_quantile,
                           double lr) {
  FEDSIGN_CHECK(bound > 0, "adaptive clipping: bound {} must be positive", bound);
  FEDSIGN_CHECK(target_quantile >= 0 && target_quantile <= 1,
                "adaptive clipping: target quantile {} not in [0, 1]", target_quantile);
  FEDSIGN_CHECK(fraction_unclipped >= 0 && fraction_unclipped <= 1,
                "adaptive clipping: fraction {} not in [0, 1]", fraction_unclipped);
  FEDSIGN_CHECK(lr >= 0, "adaptive clipping: learning rate {} < 0", lr);
  return bound * std::exp(-lr * (fraction_unclipped - target_quantile));
}

FlTrustResult fltrust(const Updates& updates, const torch::Tensor& server_update) {
  const int64_t d = check_updates(updates, "FLTrust");
  FEDSIGN_CHECK(server_update.dim() == 1 && server_update.numel() == d,
                "FLTrust: the server update has {} values, client updates {}",
                server_update.numel(), d);
  FlTrustResult out;
  const double norm0 = l2_norm(server_update);
  torch::Tensor sum = torch::zeros({d}, torch::kFloat64);
  double total_trust = 0.0;
  for (const auto& u : updates) {
    const double norm_i = l2_norm(u);
    double trust = 0.0;
    if (norm0 > 0 && norm_i > 0) trust = std::max(0.0, dot64(u, server_update) / (norm_i * norm0));
    out.trust.push_back(trust);
    if (trust > 0) {
      sum.add_(u.to(torch::kFloat64), trust * norm0 / norm_i);
      total_trust += trust;
    }
  }
  out.update = (total_trust > 0 ? sum / total_trust : sum).to(torch::kFloat32);
  return out;
}

namespace {

// X X^T of the updates as rows, in float64, over column chunks of kGramChunk values.
torch::Tensor gram_matrix(const Updates& updates) {
  constexpr int64_t kGramChunk = int64_t{1} << 16;
  const int64_t d = updates.front().numel();
  const auto n = static_cast<int64_t>(updates.size());
  torch::Tensor gram = torch::zeros({n, n}, torch::kFloat64);
  std::vector<torch::Tensor> rows(updates.size());
  for (int64_t start = 0; start < d; start += kGramChunk) {
    const int64_t len = std::min(kGramChunk, d - start);
    for (std::size_t i = 0; i < updates.size(); ++i) {
      rows[i] = updates[i].narrow(0, start, len).to(torch::kFloat64);
    }
    const torch::Tensor x = torch::stack(rows);
    gram.add_(x.matmul(x.t()));
  }
  return gram;
}

double cosine_from_gram(const torch::Tensor& gram, int64_t i, int64_t j) {
  const auto g = gram.accessor<double, 2>();
  const double norms = std::sqrt(g[i][i] * g[j][j]);
  return norms > 0 ? g[i][j] / norms : 0.0;
}

}  // namespace

CosineFilterResult cosine_filter(const Updates& updates, const std::vector<double>& weights,
                                 const CosineFilterOptions& options,
                                 const std::vector<bool>& caught_before) {
  const int64_t d = check_updates(updates, "cosine filter");
  const auto n = static_cast<int64_t>(updates.size());
  FEDSIGN_CHECK(weights.size() == updates.size(), "cosine filter: {} weights for {} updates",
                weights.size(), updates.size());
  FEDSIGN_CHECK(options.threshold >= -1 && options.threshold < 1,
                "cosine filter: threshold {} not in [-1, 1)", options.threshold);
  FEDSIGN_CHECK(options.duplicate_cosine > 0, "cosine filter: duplicate cosine {} not positive",
                options.duplicate_cosine);
  FEDSIGN_CHECK(caught_before.empty() || caught_before.size() == updates.size(),
                "cosine filter: {} memory entries for {} updates", caught_before.size(),
                updates.size());
  FEDSIGN_CHECK(options.head_offset >= 0 && options.head_length >= 0 &&
                    options.head_offset + options.head_length <= d,
                "cosine filter: output layer [{}, +{}) outside updates of {} values",
                options.head_offset, options.head_length, d);
  Updates with_reference = updates;
  with_reference.push_back(coordinate_median(updates));
  const torch::Tensor gram = gram_matrix(with_reference);
  CosineFilterResult out;
  out.dropped.assign(updates.size(), false);
  for (int64_t i = 0; i < n; ++i) {
    out.cosine.push_back(cosine_from_gram(gram, i, n));  // row n: the median
    if (out.cosine.back() <= options.threshold) out.dropped[i] = true;
  }
  if (options.head_length > 0) {
    Updates heads;
    for (const auto& u : with_reference) {
      heads.push_back(u.narrow(0, options.head_offset, options.head_length));
    }
    const torch::Tensor head_gram = gram_matrix(heads);
    for (int64_t i = 0; i < n; ++i) {
      out.head_cosine.push_back(cosine_from_gram(head_gram, i, n));
      if (out.head_cosine.back() <= options.threshold && !out.dropped[i]) {
        out.dropped[i] = true;
        ++out.head_dropped;
      }
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      if (j != i && cosine_from_gram(gram, i, j) >= options.duplicate_cosine) {
        out.dropped[i] = true;
        ++out.duplicates;
        break;
      }
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    if (!out.dropped[i] && (caught_before.empty() || !caught_before[i])) out.kept.push_back(i);
  }
  out.update = out.kept.empty() ? torch::zeros({d}, torch::kFloat32)
                                : mean_of_selected(updates, weights, out.kept);
  return out;
}

LabelRecall label_recall(const std::vector<int>& truth, const std::vector<int>& predicted) {
  FEDSIGN_CHECK(truth.size() == predicted.size(), "label test: {} labels for {} predictions",
                truth.size(), predicted.size());
  const std::set<int> named(predicted.begin(), predicted.end());
  int64_t considered = 0, right = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    if (named.count(truth[i]) == 0) continue;
    ++considered;
    right += predicted[i] == truth[i] ? 1 : 0;
  }
  LabelRecall out;
  out.images = considered;
  if (considered > 0) out.recall = static_cast<double>(right) / static_cast<double>(considered);
  return out;
}

double median_of(std::vector<double> values) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

std::vector<bool> low_outliers(const std::vector<double>& scores, double ratio) {
  FEDSIGN_CHECK(ratio > 0 && ratio <= 1, "label test: ratio {} not in (0, 1]", ratio);
  std::vector<bool> out(scores.size(), false);
  if (scores.empty()) return out;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    FEDSIGN_CHECK(std::isfinite(scores[i]), "label test: update {} has score {}", i, scores[i]);
  }
  const double median = median_of(scores);
  for (std::size_t i = 0; i < scores.size(); ++i) out[i] = scores[i] < ratio * median;
  return out;
}

}  // namespace fedsign::fl::robust
