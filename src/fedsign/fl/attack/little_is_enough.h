// "A Little Is Enough" (Baruch, Baruch and Goldberg 2019): m colluding attackers among the n
// clients of a round all send mean - z * std of the updates they observe (per coordinate), a
// shift small enough to stay inside the benign spread, so median, trimmed mean and Krum keep it,
// yet consistent across rounds and attackers, so it accumulates.
//
// z is the paper's z_max: with s = floor(n / 2 + 1) - m clients the attackers need on their
// side (beyond themselves) for a majority, z_max = Phi^-1((n - s) / n) (Phi: standard normal
// CDF). Pure functions; thread-safe. Tested in tests/fl/attack_test.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "fedsign/fl/weights.h"

namespace fedsign::fl::attack {

// z_max for n clients per round of which m attack; n >= 1, 0 <= m <= n, else fedsign::Error.
// Clamped at 0 when (n - s) / n <= 1/2 (no shift can recruit enough clients).
double little_is_enough_z(int64_t n, int64_t m);

// global + mean_i(d_i) - z * std_i(d_i) per floating value, d_i = observed_i - global; std is the
// sample standard deviation (n - 1) over at least 2 observed models (1 model: std = 0). Integer
// tensors are the first observed model's.
Weights little_is_enough(const Weights& global, const std::vector<Weights>& observed, double z);

}  // namespace fedsign::fl::attack
