#include "fedsign/fl/robust/flat_update.h"

#include <string>

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

namespace {
std::string module_of(const std::string& name) {
  const auto dot = name.rfind('.');
  return dot == std::string::npos ? std::string() : name.substr(0, dot);
}
}  // namespace

FlatRange output_layer_range(const Weights& layout) {
  FEDSIGN_CHECK(layout.names.size() == layout.tensors.size(), "weights: {} names for {} tensors",
                layout.names.size(), layout.tensors.size());
  int64_t last_matrix = -1;
  for (std::size_t i = 0; i < layout.size(); ++i) {
    if (layout.tensors[i].is_floating_point() && layout.tensors[i].dim() == 2) {
      last_matrix = static_cast<int64_t>(i);
    }
  }
  FEDSIGN_CHECK(last_matrix >= 0, "output layer: the model has no 2-D (Linear) weight");
  const std::string module = module_of(layout.names[static_cast<std::size_t>(last_matrix)]);
  FlatRange range;
  int64_t offset = 0;
  bool inside = false, done = false;
  for (std::size_t i = 0; i < layout.size(); ++i) {
    const torch::Tensor& t = layout.tensors[i];
    if (!t.is_floating_point()) continue;
    const bool mine = module_of(layout.names[i]) == module;
    FEDSIGN_CHECK(!(mine && done), "output layer '{}': its tensors are not adjacent ({})", module,
                  layout.names[i]);
    if (mine && !inside) range.offset = offset;
    if (mine) range.length += t.numel();
    if (inside && !mine) done = true;
    inside = mine;
    offset += t.numel();
  }
  return range;
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
