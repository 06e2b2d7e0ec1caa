// Model-poisoning attacks on one client's update, as pure functions of the global model the
// client started from and the model it trained (the update is local - global over the floating
// tensors; integer tensors such as num_batches_tracked pass unchanged). Seeded where random.
// Tested in tests/fl/attack_test.cpp. Thread-safe.
#pragma once

#include <cstdint>

#include "fedsign/fl/weights.h"

namespace fedsign::fl::attack {

// global + factor * (local - global): boosting ("model replacement", Bagdasaryan et al. 2020,
// factor ~ number of clients per round) for factor > 1.
Weights scaled_update(const Weights& global, const Weights& local, double factor);

// global - scale * (local - global): the update pointing the other way (scale 1: plain flip).
Weights sign_flip(const Weights& global, const Weights& local, double scale = 1.0);

// global + noise, noise ~ N(0, stddev^2) per value, drawn from `seed` (the update is replaced by
// noise, the Gaussian Byzantine update of Blanchard et al. 2017). Same seed, same noise.
Weights gaussian_update(const Weights& global, const Weights& local, double stddev, uint64_t seed);

}  // namespace fedsign::fl::attack
