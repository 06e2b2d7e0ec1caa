#include "fedsign/net/validate.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <cmath>

namespace fedsign::net {

Status check_layout(const fl::Weights& expected, const fl::Weights& got, const std::string& what) {
  if (expected.size() != got.size() || got.names.size() != got.tensors.size()) {
    return {Code::kInvalidArgument,
            fmt::format("{}: {} tensors, expected {}", what, got.size(), expected.size())};
  }
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto& e = expected.tensors[i];
    const auto& g = got.tensors[i];
    if (expected.names[i] != got.names[i]) {
      return {Code::kInvalidArgument, fmt::format("{}: tensor {} is '{}', expected '{}'", what, i,
                                                  got.names[i], expected.names[i])};
    }
    if (e.sizes() != g.sizes()) {
      return {Code::kInvalidArgument,
              fmt::format("{}: tensor '{}' has shape {}, expected {}", what, got.names[i],
                          fmt::join(g.sizes().vec(), "x"), fmt::join(e.sizes().vec(), "x"))};
    }
    if (e.scalar_type() != g.scalar_type()) {
      return {Code::kInvalidArgument,
              fmt::format("{}: tensor '{}' has dtype {}, expected {}", what, got.names[i],
                          c10::toString(g.scalar_type()), c10::toString(e.scalar_type()))};
    }
  }
  return Status::Ok();
}

Status check_finite(const fl::Weights& w, const std::string& what) {
  for (std::size_t i = 0; i < w.size(); ++i) {
    const auto& t = w.tensors[i];
    if (!t.is_floating_point() || t.numel() == 0) continue;
    if (!torch::isfinite(t).all().item<bool>()) {
      return {Code::kInvalidArgument,
              fmt::format("{}: tensor '{}' has non-finite values", what, w.names[i])};
    }
  }
  return Status::Ok();
}

Status validate_fit_update(const fl::Weights& global,
                           const std::optional<fl::Weights>& control_layout,
                           const fl::FitResult& update, const UpdateLimits& limits) {
  if (update.num_examples < 0 || update.num_examples > limits.max_examples) {
    return {Code::kInvalidArgument, fmt::format("num_examples {} out of range", update.num_examples)};
  }
  for (const auto& [key, value] : update.metrics) {
    if (!std::isfinite(value)) {
      return {Code::kInvalidArgument, fmt::format("metric '{}' is not finite", key)};
    }
  }
  if (Status s = check_layout(global, update.weights, "weights"); !s.ok()) return s;
  if (Status s = check_finite(update.weights, "weights"); !s.ok()) return s;
  if (control_layout.has_value() != update.control_delta.has_value()) {
    return {Code::kInvalidArgument, control_layout ? "control variate missing" : "unexpected control variate"};
  }
  if (control_layout) {
    if (Status s = check_layout(*control_layout, *update.control_delta, "control"); !s.ok()) return s;
    if (Status s = check_finite(*update.control_delta, "control"); !s.ok()) return s;
  }
  return Status::Ok();
}

}  // namespace fedsign::net
