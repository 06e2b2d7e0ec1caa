// Shamir secret sharing (Shamir 1979) over the prime field GF(2^61 - 1), for secure
// aggregation's mask seeds: a 32-byte secret is cut into eight 32-bit chunks, each shared with
// its own random polynomial of degree threshold - 1; the share of participant x (x >= 1) holds
// the eight evaluations at x. Any `threshold` shares recover the secret by Lagrange
// interpolation at 0; fewer reveal nothing about it. No LibTorch; pure functions.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "fedsign/fl/privacy/secagg_crypto.h"

namespace fedsign::fl::privacy {

inline constexpr uint64_t kShamirPrime = (uint64_t{1} << 61) - 1;

struct ShamirShare {
  uint64_t x = 0;                  // the evaluation point, >= 1
  std::array<uint64_t, 8> y{};     // one evaluation per 32-bit chunk of the secret
};

// Shares of `secret` at the points xs (distinct, in [1, p)), any `threshold` of which
// reconstruct it. threshold in [1, xs.size()].
std::vector<ShamirShare> shamir_split(const Bytes32& secret, int64_t threshold,
                                      const std::vector<uint64_t>& xs, RandomSource& random);

// The secret from >= threshold shares with distinct points (all given shares are used; with
// fewer than the threshold the result is garbage, so callers check the count).
Bytes32 shamir_reconstruct(const std::vector<ShamirShare>& shares);

// Field arithmetic mod 2^61 - 1 (exposed for tests).
uint64_t field_mul(uint64_t a, uint64_t b);
uint64_t field_inv(uint64_t a);

}  // namespace fedsign::fl::privacy
