#include "fedsign/net/validate.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <cmath>

#include "fedsign/fl/update.h"

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
                                                  printable(got.names[i]), expected.names[i])};
    }
    if (e.sizes() != g.sizes()) {
      return {Code::kInvalidArgument,
              fmt::format("{}: tensor '{}' has shape {}, expected {}", what, expected.names[i],
                          fmt::join(g.sizes().vec(), "x"), fmt::join(e.sizes().vec(), "x"))};
    }
    if (e.scalar_type() != g.scalar_type()) {
      return {Code::kInvalidArgument,
              fmt::format("{}: tensor '{}' has dtype {}, expected {}", what, expected.names[i],
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


double update_norm_bound(const fl::Weights& global, const UpdateLimits& limits) {
  if (limits.max_update_norm > 0) return limits.max_update_norm;
  if (limits.max_update_norm == 0) return INFINITY;
  const double norm = limits.known_global_norm >= 0 ? limits.known_global_norm : fl::l2_norm(global);
  return std::max(10.0, 10.0 * norm);
}

Status validate_evaluate_result(int64_t num_examples, double loss, const fl::Metrics& metrics,
                                int64_t max_examples) {
  if (num_examples < 0 || num_examples > max_examples) {
    return {Code::kOutOfRange,
            fmt::format("num_examples {} out of range 0..{}", num_examples, max_examples)};
  }
  if (!std::isfinite(loss) || loss < 0) {
    return {Code::kInvalidArgument, fmt::format("evaluation loss {} not finite or negative", loss)};
  }
  for (const auto& [key, value] : metrics) {
    if (!std::isfinite(value)) {
      return {Code::kInvalidArgument, fmt::format("metric '{}' is not finite", printable(key))};
    }
    if (key.find("accuracy") != std::string::npos && (value < 0 || value > 1)) {
      return {Code::kInvalidArgument,
              fmt::format("metric '{}' = {} outside [0, 1]", printable(key), value)};
    }
  }
  return Status::Ok();
}

Status validate_fit_update(const fl::Weights& global,
                           const std::optional<fl::Weights>& control_layout,
                           fl::FitResult& update, const UpdateLimits& limits, double* norm) {
  if (update.num_examples < 0 || update.num_examples > limits.max_examples) {
    return {Code::kOutOfRange, fmt::format("num_examples {} out of range 0..{}",
                                           update.num_examples, limits.max_examples)};
  }
  for (const auto& [key, value] : update.metrics) {
    if (!std::isfinite(value)) {
      return {Code::kInvalidArgument, fmt::format("metric '{}' is not finite", printable(key))};
    }
  }
  if (Status s = check_layout(global, update.weights, "weights"); !s.ok()) return s;
  const double bound = update_norm_bound(global, limits);
  const double change = fl::delta_norm(global, update.weights);
  if (norm) *norm = change;
  // A finite norm (squares summed in double: no overflow for any float32) means every value is
  // finite; only otherwise is the update searched for the tensor to name.
  if (!std::isfinite(change)) {
    if (Status s = check_finite(update.weights, "weights"); !s.ok()) return s;
  }
  if (!std::isfinite(change) || change > bound) {
    if (!limits.clip || !std::isfinite(change)) {
      return {Code::kOutOfRange,
              fmt::format("update norm {:.4g} exceeds the bound {:.4g}", change, bound)};
    }
    update.weights = fl::scale_delta(global, update.weights, bound / change);
  }
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
