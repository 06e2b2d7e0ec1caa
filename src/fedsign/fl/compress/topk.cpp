#include "fedsign/fl/compress/topk.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fedsign/core/check.h"
#include "fedsign/fl/compress/positions.h"

namespace fedsign::fl::compress {

int64_t SparseTensor::bytes() const {
  int64_t n = values.numel() * static_cast<int64_t>(values.element_size());
  if (indices.defined()) n += encoded_positions_bytes(indices);
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

// |x| as an unsigned key ordered as torch::topk orders magnitudes: the bits of a non-negative
// float compare as its value does, and NaN takes infinity's key, above every number, so a broken
// update is sent (and refused by the server) rather than hidden in the residual.
uint32_t magnitude_key(float x) {
  if (std::isnan(x)) return 0x7f800000u;  // +infinity
  uint32_t bits = 0;
  std::memcpy(&bits, &x, sizeof bits);
  return bits & 0x7fffffffu;
}

// The k-th largest key (1 <= k <= n), and how many keys are larger, by radix selection: a
// histogram of the keys' top 16 bits finds the bucket the k-th largest falls in, then selection
// among that bucket's keys alone. Two linear passes; std::nth_element over a copy of all n keys
// was several times slower on ResNet-18's 2.4 M-value tensors, and torch::topk's heap of k
// slower still.
struct Threshold {
  uint32_t key = 0;
  int64_t greater = 0;
};

Threshold kth_largest_key(const float* x, int64_t n, int64_t k) {
  // 32-bit counts keep the histogram (256 KB) in the core's cache; a tensor has fewer values.
  FEDSIGN_CHECK(n <= int64_t{0xffffffff},
                "top-k: a tensor of {} values, more than the selection counts (2^32 - 1)", n);
  std::vector<uint32_t> counts(std::size_t{1} << 16, 0);
  for (int64_t i = 0; i < n; ++i) ++counts[magnitude_key(x[i]) >> 16];
  auto bucket = static_cast<uint32_t>(counts.size() - 1);
  int64_t above = 0;  // keys in the buckets above `bucket`
  while (above + counts[bucket] < k) above += counts[bucket--];
  std::vector<uint32_t> in_bucket;
  in_bucket.reserve(static_cast<std::size_t>(counts[bucket]));
  for (int64_t i = 0; i < n; ++i) {
    const uint32_t key = magnitude_key(x[i]);
    if ((key >> 16) == bucket) in_bucket.push_back(key);
  }
  // The (k - above)-th largest of the bucket; those after it are not smaller.
  const auto kth = in_bucket.end() - (k - above);
  std::nth_element(in_bucket.begin(), kth, in_bucket.end());
  const uint32_t key = *kth;
  return {key, above + std::count_if(kth + 1, in_bucket.end(), [key](uint32_t v) { return v > key; })};
}

}  // namespace

torch::Tensor largest_magnitudes(const torch::Tensor& values, int64_t k) {
  const torch::Tensor a = values.to(torch::kFloat32).contiguous().reshape({-1});
  const int64_t n = a.numel();
  FEDSIGN_CHECK(k >= 0 && k <= n, "top-k: k = {} for a tensor of {} values", k, n);
  torch::Tensor out = torch::empty({k}, torch::kInt64);
  if (k == 0) return out;
  const float* x = a.data_ptr<float>();
  const auto [threshold, greater] = kth_largest_key(x, n, k);
  // Values equal to the threshold fill what the larger ones leave, first positions first.
  int64_t ties = k - greater;
  int64_t* o = out.data_ptr<int64_t>();
  for (int64_t i = 0, j = 0; i < n && j < k; ++i) {
    const uint32_t key = magnitude_key(x[i]);
    if (key > threshold || (key == threshold && ties-- > 0)) o[j++] = i;
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
