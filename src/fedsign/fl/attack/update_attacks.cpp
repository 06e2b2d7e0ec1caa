#include "fedsign/fl/attack/update_attacks.h"

#include <ATen/CPUGeneratorImpl.h>

#include "fedsign/core/check.h"
#include "fedsign/fl/update.h"

namespace fedsign::fl::attack {

Weights scaled_update(const Weights& global, const Weights& local, double factor) {
  return scale_delta(global, local, factor);
}

Weights sign_flip(const Weights& global, const Weights& local, double scale) {
  FEDSIGN_CHECK(scale > 0, "sign-flip attack: scale {} must be positive", scale);
  return scale_delta(global, local, -scale);
}

Weights gaussian_update(const Weights& global, const Weights& local, double stddev, uint64_t seed) {
  FEDSIGN_CHECK(stddev >= 0, "Gaussian attack: standard deviation {} < 0", stddev);
  check_same_layout(global, local, "Gaussian attack");
  at::Generator generator = at::detail::createCPUGenerator(seed);
  Weights out;
  out.names = local.names;
  for (std::size_t i = 0; i < local.size(); ++i) {
    const torch::Tensor& g = global.tensors[i];
    if (!g.is_floating_point()) {
      out.tensors.push_back(local.tensors[i]);
      continue;
    }
    const torch::Tensor noise =
        at::normal(0.0, stddev, g.sizes(), generator, torch::TensorOptions(torch::kFloat32));
    out.tensors.push_back((g.to(torch::kFloat32) + noise).to(g.scalar_type()));
  }
  return out;
}

}  // namespace fedsign::fl::attack
