#include "fedsign/fl/attack/little_is_enough.h"

#include <cmath>

#include "fedsign/core/check.h"
#include "fedsign/fl/robust/flat_update.h"

namespace fedsign::fl::attack {

double little_is_enough_z(int64_t n, int64_t m) {
  FEDSIGN_CHECK(n >= 1 && m >= 0 && m <= n, "little-is-enough: {} attackers among {} clients", m, n);
  const int64_t s = n / 2 + 1 - m;
  const double p = static_cast<double>(n - s) / static_cast<double>(n);
  if (p <= 0.5) return 0.0;
  if (p >= 1.0) return 4.0;  // every client is on the attackers' side: any z; cap the shift
  // Phi^-1(p) = sqrt(2) * erfinv(2p - 1); LibTorch has erfinv, the standard library does not.
  return std::sqrt(2.0) * torch::erfinv(torch::tensor(2.0 * p - 1.0, torch::kFloat64)).item<double>();
}

Weights little_is_enough(const Weights& global, const std::vector<Weights>& observed, double z) {
  FEDSIGN_CHECK(!observed.empty(), "little-is-enough: no observed updates");
  std::vector<torch::Tensor> deltas;
  for (const auto& w : observed) deltas.push_back(robust::flat_delta(global, w).to(torch::kFloat64));
  const torch::Tensor stacked = torch::stack(deltas);
  const torch::Tensor mean = stacked.mean(0);
  const auto k = static_cast<double>(deltas.size());
  const torch::Tensor std = deltas.size() >= 2
                                ? ((stacked - mean).pow(2).sum(0) / (k - 1)).sqrt()
                                : torch::zeros_like(mean);
  std::vector<bool> integer_mask;
  for (const auto& t : global.tensors) integer_mask.push_back(!t.is_floating_point());
  return robust::apply_flat_delta(global, mean - std * z, select(observed[0], integer_mask));
}

}  // namespace fedsign::fl::attack
