// Validation of a client's update before it may touch the aggregate: layout (tensor names,
// shapes, dtypes in order) against what the server sent, finite values, example count.
// Pure functions returning Status (tested in tests/net/validate_test.cpp).
#pragma once

#include <optional>

#include "fedsign/fl/messages.h"
#include "fedsign/net/status.h"

namespace fedsign::net {

// `what` names the weight set in messages ("weights", "control").
Status check_layout(const fl::Weights& expected, const fl::Weights& got, const std::string& what);
// Every floating-point value finite.
Status check_finite(const fl::Weights& w, const std::string& what);

struct UpdateLimits {
  int64_t max_examples = int64_t{1} << 40;
};

// A FIT update: weights like `global`, control like `control_layout` when the task carried one
// (SCAFFOLD) and absent otherwise, finite metrics, 0 <= num_examples <= max.
Status validate_fit_update(const fl::Weights& global, const std::optional<fl::Weights>& control_layout,
                           const fl::FitResult& update, const UpdateLimits& limits = {});

}  // namespace fedsign::net
