#include "fedsign/fl/robust/flat_update.h"


#include "fedsign/core/check.h"

namespace fedsign::fl::robust {

std::vector<bool> floating_mask(const Weights& layout) {
  std::vector<bool> mask(layout.size());
  for (std::size_t i = 0; i < layout.size(); ++i) mask[i] = layout.tensors[i].is_floating_point();
  return mask;
}

int64_t floating_numel(const Weights& layout) {
  int64_t n = 0;
  for (const auto& t : layout.tensors) {
    if (t.is_floating_point()) n += t.numel();
  }
  return n;
}

torch::Tensor flat_delta(const Weights& global, const Weights& local) {
  check_same_layout(global, local, "client update");
  std::vector<torch::Tensor> parts;
  parts.reserve(global.size());
  for (std::size_t i = 0; i < global.size(); ++i) {
    if (!global.tensors[i].is_floating_point()) continue;
    parts.push_back((local.tensors[i].to(torch::kFloat32) - global.tensors[i].to(torch::kFloat32))
                        .reshape({-1}));
  }
  if (parts.empty()) return torch::zeros({0}, torch::kFloat32);
  return torch::cat(parts);
}

Weights apply_flat_delta(const Weights& global, const torch::Tensor& delta, const Weights& integers) {
  FEDSIGN_CHECK(delta.dim() == 1 && delta.numel() == floating_numel(global),
                "robust update: {} values for a model with {} floating-point values", delta.numel(),
                floating_numel(global));
  const std::vector<bool> floating = floating_mask(global);
  if (!integers.empty()) {
    std::vector<bool> is_integer(floating.size());
    for (std::size_t i = 0; i < floating.size(); ++i) is_integer[i] = !floating[i];
    check_same_layout(select(global, is_integer), integers, "integer tensors of the update");
  }
  Weights out;
  out.names = global.names;
  int64_t offset = 0;
  std::size_t k = 0;  // next integer tensor
  for (std::size_t i = 0; i < global.size(); ++i) {
    const torch::Tensor& g = global.tensors[i];
    if (!g.is_floating_point()) {
      out.tensors.push_back(integers.empty() ? g : integers.tensors[k++]);
      continue;
    }
    const torch::Tensor d = delta.narrow(0, offset, g.numel()).reshape(g.sizes());
    offset += g.numel();
    out.tensors.push_back((g.to(d.scalar_type()) + d).to(g.scalar_type()).contiguous());
  }
  return out;
}

}  // namespace fedsign::fl::robust
