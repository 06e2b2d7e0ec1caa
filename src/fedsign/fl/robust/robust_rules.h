// Robust aggregation rules as pure functions over a round's client updates (deltas from the
// global model, flattened by flat_update.h): each returns the combined update the server applies
// instead of the weighted mean. Tested against hand-computed values in
// tests/fl/robust_rules_test.cpp; the strategy wrappers (robust_strategy.h, clipping_strategy.h)
// only collect updates and call these.
//
// Updates are 1-D float32 tensors of equal length d, one per client (n of them). Results are
// float32. Coordinate-wise rules work on column chunks of at most kColumnChunk values, so their
// temporaries stay O(n x chunk) beside the inputs. Thread-safe (no shared state).
//
// Cost with n updates of d values: median and trimmed mean sort each coordinate, O(n log n d);
// Krum computes all pairwise distances, O(n^2 d); FLTrust and clipping are O(n d).
#pragma once

#include <torch/types.h>

#include <vector>

namespace fedsign::fl::robust {

using Updates = std::vector<torch::Tensor>;

inline constexpr int64_t kColumnChunk = int64_t{1} << 20;

// sum_i w_i u_i / sum_i w_i (accumulated in float64). Throws if the total weight is not positive.
torch::Tensor weighted_mean(const Updates& updates, const std::vector<double>& weights);

// Coordinate-wise median (Yin et al. 2018), unweighted: for an even count the mean of the two
// middle values of each coordinate.
torch::Tensor coordinate_median(const Updates& updates);

// Coordinate-wise trimmed mean (Yin et al. 2018), unweighted: per coordinate, drop the
// k = floor(beta * n) largest and k smallest values and average the n - 2k others.
// beta in [0, 0.5) and n - 2k >= 1, else fedsign::Error.
torch::Tensor trimmed_mean(const Updates& updates, double beta);
int64_t trimmed_count(int64_t n, double beta);  // k

// Krum (Blanchard et al. 2017): the score of update i is the sum of its squared distances to its
// n - f - 2 nearest other updates (f = assumed number of Byzantine clients); the update with the
// lowest score is the most central one. Needs n - f - 2 >= 1 (the paper assumes n > 2f + 2).
// Scores in float64; distances computed pair by pair (O(d) temporaries).
std::vector<double> krum_scores(const Updates& updates, int64_t f);

// Multi-Krum: the m updates with the lowest Krum scores (ties: lower index first), averaged
// weighted by `weights` (example counts, as FedAvg). m = 1 is Krum; m <= 0 means n - f.
struct KrumResult {
  torch::Tensor update;
  std::vector<int64_t> selected;  // indices into updates, by increasing score
};
KrumResult multi_krum(const Updates& updates, const std::vector<double>& weights, int64_t f,
                      int64_t m);

// Norm clipping: u * min(1, bound / ||u||) (the update unchanged if its norm is within bound).
double clip_factor(double norm, double bound);
torch::Tensor clip_to_norm(const torch::Tensor& update, double bound);

// Adaptive clipping (Andrew et al. 2021, "Differentially Private Learning with Adaptive
// Clipping", without the noise): the bound moves geometrically toward the target quantile
// gamma of the update norms, C <- C * exp(-lr * (b - gamma)), where b is the fraction of this
// round's updates whose norm was <= C. b > gamma (too many unclipped) shrinks C.
double adaptive_clip_bound(double bound, double fraction_unclipped, double target_quantile,
                           double lr);

// FLTrust (Cao et al. 2021, "FLTrust: Byzantine-robust Federated Learning via Trust
// Bootstrapping"): the server trains on a small clean root set for the same local epochs and
// gets g0. Client i gets trust TS_i = max(0, cos(g_i, g0)); its update is rescaled to the norm
// of g0, and the result is sum_i TS_i * g_i * ||g0|| / ||g_i|| / sum_i TS_i (zero when no
// client is trusted or g0 = 0). Client example counts play no part (as in the paper).
struct FlTrustResult {
  torch::Tensor update;
  std::vector<double> trust;  // TS_i per update
};
FlTrustResult fltrust(const Updates& updates, const torch::Tensor& server_update);

// Cosine filter: FLTrust's similarity test without a root set, and FoolsGold's sybil test within
// one round. The reference is the round's own coordinate-wise median (robust while attackers are
// fewer than half); update i is dropped when
//   - cos(u_i, median) <= threshold: it points away from the round (a sign flip does), or
//   - cos(u_i, u_j) >= duplicate_cosine for another update j: near copies of one update, which
//     honest clients with their own data do not send and colluders (little-is-enough) do, or
//   - caught_before[i]: its client was dropped in an earlier round (the server's memory), or
//   - with head_length > 0: the cosine of its values [head_offset, head_offset + head_length)
//     (the output layer, flat_update.h's output_layer_range) with the same values of the median
//     is <= threshold. The output layer is where a permutation of the labels (label flipping)
//     would show; measured on GTSRB it does not separate flippers from non-IID honest clients
//     (docs/robustness.md, "The label test"), the label test of robust_strategy.h does.
// The kept updates are averaged weighted by example counts, as FedAvg would (no norm matching:
// combine with clipping for boosted updates). Nothing kept: a zero update. Cosines come from the
// updates' Gram matrix (float64, O(n^2 d), in column chunks; the output layer's from its own).
struct CosineFilterOptions {
  double threshold = 0.0;         // in [-1, 1)
  double duplicate_cosine = 1.1;  // > 1: no duplicate test
  int64_t head_offset = 0;        // the output layer's values in each update, tested on their own
  int64_t head_length = 0;        // 0: no output-layer test
};
struct CosineFilterResult {
  torch::Tensor update;
  std::vector<double> cosine;     // per update, against this round's median
  std::vector<double> head_cosine;  // per update, output layer against the median's (if tested)
  std::vector<bool> dropped;      // per update: by this round's cosine, head or duplicate test
  int64_t head_dropped = 0;       // updates dropped by the output-layer test alone
  std::vector<int64_t> kept;      // indices into updates
  int64_t duplicates = 0;         // updates dropped as near copies
};
CosineFilterResult cosine_filter(const Updates& updates, const std::vector<double>& weights,
                                 const CosineFilterOptions& options,
                                 const std::vector<bool>& caught_before = {});

// The label test (server side, on its small clean root set): a client that trained on flipped
// labels learns the same features as an honest one, so its update's direction hides among
// theirs, but its model names the wrong classes. label_recall() is the share of the root images
// whose true label is one the model predicts at all (on the root set) that it labels right:
// a non-IID honest client predicts mostly its own classes and gets their images right; a client
// trained on c -> c' predicts c' for images of c, and images of c' (which it never saw labelled)
// as whatever it learned. 0 when the model predicts no root image's label. `images`: how many
// root images the recall counts (the evidence behind it).
struct LabelRecall {
  double recall = 0.0;
  int64_t images = 0;
};
LabelRecall label_recall(const std::vector<int>& truth, const std::vector<int>& predicted);

// The median of `values` (for an even count the mean of the two middle values); 0 when empty.
double median_of(std::vector<double> values);

// low_outliers(): score i is an outlier when it is below ratio x the round's median score (for
// an even count the mean of the two middle values). ratio in (0, 1], scores finite, else
// fedsign::Error.
std::vector<bool> low_outliers(const std::vector<double>& scores, double ratio);

}  // namespace fedsign::fl::robust
