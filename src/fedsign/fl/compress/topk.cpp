#include "fedsign/fl/compress/topk.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "fedsign/core/check.h"

namespace fedsign::fl::compress {

int64_t SparseTensor::bytes() const {
  int64_t n = values.numel() * static_cast<int64_t>(values.element_size());
  if (indices.defined()) n += indices.numel() * static_cast<int64_t>(indices.element_size());
  return n;
}

int64_t SparseWeights::bytes() const {
  int64_t n = 0;
  for (const auto& t : tensors) n += t.bytes();
  return n;
}

bool TopKRule::sparsifies(const std::string& name, bool floating, int64_t numel) const {
  // BatchNorm's running statistics are sent whole and kept out of the residual: they are
  // moving averages of data, not gradient steps, and a stale residual added to a running
  // variance can make it negative (the first top-1% GTSRB run went NaN at round 40 so).
  return floating && !is_running_statistic(name) && numel > dense_up_to;
}

int64_t TopKRule::count(int64_t numel) const {
  return std::min<int64_t>(
      numel, std::max<int64_t>(1, static_cast<int64_t>(std::ceil(fraction * numel - 1e-9))));
}

namespace {

// |x| ordered as torch::topk orders it: NaN above every number, so a broken update is sent (and
// refused by the server) rather than hidden in the residual.
float magnitude(float x) { return std::isnan(x) ? std::numeric_limits<float>::infinity() : std::fabs(x); }

}  // namespace

torch::Tensor largest_magnitudes(const torch::Tensor& values, int64_t k) {
  const torch::Tensor a = values.to(torch::kFloat32).contiguous().reshape({-1});
  const int64_t n = a.numel();
  FEDSIGN_CHECK(k >= 0 && k <= n, "top-k: k = {} for a tensor of {} values", k, n);
  const float* x = a.data_ptr<float>();
  // The k-th largest magnitude by selection (linear time; torch::topk sorts a heap of k for
  // small k, several times slower on ResNet-18's 2.4 M-value tensors), then one pass in order.
  std::vector<float> m(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) m[i] = magnitude(x[i]);
  torch::Tensor out = torch::empty({k}, torch::kInt64);
  if (k == 0) return out;
  const auto kth = m.begin() + (n - k);
  std::nth_element(m.begin(), kth, m.end());
  const float threshold = *kth;
  // Values equal to the threshold fill what the larger ones leave, first positions first.
  int64_t ties = k - std::count_if(kth, m.end(), [&](float v) { return v > threshold; });
  int64_t* o = out.data_ptr<int64_t>();
  for (int64_t i = 0, j = 0; i < n && j < k; ++i) {
    const float v = magnitude(x[i]);
    if (v > threshold || (v == threshold && ties-- > 0)) o[j++] = i;
  }
  return out;
}

TopKResult topk_compress(const Weights& delta, const TopKRule& rule, const Weights& residual) {
  FEDSIGN_CHECK(rule.fraction > 0 && rule.fraction <= 1, "top-k: fraction {} not in (0, 1]",
                rule.fraction);
  FEDSIGN_CHECK(rule.dense_up_to >= 0, "top-k: dense_up_to {} is negative", rule.dense_up_to);
  TopKResult out;
  out.sparse.names = delta.names;
  std::size_t r = 0;  // next residual tensor
  for (std::size_t i = 0; i < delta.size(); ++i) {
    const torch::Tensor& t = delta.tensors[i];
    SparseTensor s;
    s.shape = t.sizes().vec();
    s.dtype = t.scalar_type();
    if (!rule.sparsifies(delta.names[i], t.is_floating_point(), t.numel())) {
      s.raw = true;
      s.values = t;
      out.sparse.tensors.push_back(std::move(s));
      continue;
    }
    torch::Tensor a = t.to(torch::kFloat32).reshape({-1});
    if (!residual.empty()) {
      FEDSIGN_CHECK(r < residual.size() && residual.names[r] == delta.names[i] &&
                        residual.tensors[r].numel() == a.numel(),
                    "top-k: the residual does not match update tensor '{}'", delta.names[i]);
      a = a + residual.tensors[r++].reshape({-1});
    }
    const torch::Tensor idx = largest_magnitudes(a, rule.count(a.numel()));
    s.indices = idx.to(torch::kInt32);
    s.values = a.index_select(0, idx);
    // `a` is a new tensor once the residual is added; otherwise it may be the caller's delta.
    torch::Tensor left = residual.empty() ? a.clone() : a;
    left.index_fill_(0, idx, 0.0);
    out.residual.names.push_back(delta.names[i]);
    out.residual.tensors.push_back(left.reshape(t.sizes()));
    out.sparse.tensors.push_back(std::move(s));
  }
  FEDSIGN_CHECK(residual.empty() || r == residual.size(),
                "top-k: the residual has {} tensors, the update {} floating ones", residual.size(), r);
  return out;
}

Weights densify(const SparseWeights& sparse) {
  FEDSIGN_CHECK(sparse.names.size() == sparse.tensors.size(), "top-k update: {} names for {} tensors",
                sparse.names.size(), sparse.tensors.size());
  Weights out;
  out.names = sparse.names;
  for (std::size_t i = 0; i < sparse.tensors.size(); ++i) {
    const SparseTensor& s = sparse.tensors[i];
    if (s.raw) {
      out.tensors.push_back(s.values);
      continue;
    }
    int64_t numel = 1;
    for (int64_t d : s.shape) numel *= d;
    FEDSIGN_CHECK(s.indices.numel() == s.values.numel(),
                  "top-k update: tensor '{}' has {} indices for {} values", sparse.names[i],
                  s.indices.numel(), s.values.numel());
    torch::Tensor flat = torch::zeros({numel}, torch::kFloat32);
    if (s.indices.numel() > 0) {
      const torch::Tensor idx = s.indices.to(torch::kInt64);
      FEDSIGN_CHECK(idx.min().item<int64_t>() >= 0 && idx.max().item<int64_t>() < numel,
                    "top-k update: an index of tensor '{}' is outside its {} values",
                    sparse.names[i], numel);
      flat.index_put_({idx}, s.values.to(torch::kFloat32));
    }
    out.tensors.push_back(flat.reshape(s.shape).to(s.dtype));
  }
  return out;
}


Weights FeedbackRate::rejoin(const std::optional<Weights>& kept) const {
  return kept ? scale(*kept, rate) : Weights{};
}

Weights FeedbackRate::keep(const Weights& left) const { return scale(left, 1.0 / rate); }

}  // namespace fedsign::fl::compress
