#include "fedsign/fl/privacy/shamir.h"

#include <cstring>
#include <set>

#include "fedsign/core/check.h"

namespace fedsign::fl::privacy {

namespace {

uint64_t field_add(uint64_t a, uint64_t b) {
  const uint64_t s = a + b;  // < 2^62, no overflow
  return s >= kShamirPrime ? s - kShamirPrime : s;
}

uint64_t field_sub(uint64_t a, uint64_t b) { return a >= b ? a - b : a + kShamirPrime - b; }

uint64_t random_element(RandomSource& random) {
  for (;;) {  // rejection sampling: uniform on [0, p)
    const uint64_t v = random.next_u64() & kShamirPrime;
    if (v < kShamirPrime) return v;
  }
}

}  // namespace

uint64_t field_mul(uint64_t a, uint64_t b) {
  const unsigned __int128 prod = static_cast<unsigned __int128>(a) * b;
  // 2^61 = 1 (mod p): fold the high bits onto the low ones.
  uint64_t r = static_cast<uint64_t>(prod & kShamirPrime) + static_cast<uint64_t>(prod >> 61);
  r = (r & kShamirPrime) + (r >> 61);
  return r >= kShamirPrime ? r - kShamirPrime : r;
}

uint64_t field_inv(uint64_t a) {
  FEDSIGN_CHECK(a % kShamirPrime != 0, "Shamir: inverse of 0");
  uint64_t result = 1, base = a % kShamirPrime, e = kShamirPrime - 2;  // Fermat
  while (e > 0) {
    if (e & 1) result = field_mul(result, base);
    base = field_mul(base, base);
    e >>= 1;
  }
  return result;
}

std::vector<ShamirShare> shamir_split(const Bytes32& secret, int64_t threshold,
                                      const std::vector<uint64_t>& xs, RandomSource& random) {
  FEDSIGN_CHECK(threshold >= 1 && threshold <= static_cast<int64_t>(xs.size()),
                "Shamir: threshold {} for {} participants", threshold, xs.size());
  FEDSIGN_CHECK(std::set<uint64_t>(xs.begin(), xs.end()).size() == xs.size(),
                "Shamir: evaluation points are not distinct");
  std::vector<ShamirShare> shares(xs.size());
  for (std::size_t i = 0; i < xs.size(); ++i) {
    FEDSIGN_CHECK(xs[i] >= 1 && xs[i] < kShamirPrime, "Shamir: point {} out of range", xs[i]);
    shares[i].x = xs[i];
  }
  for (int chunk = 0; chunk < 8; ++chunk) {
    uint32_t value;
    std::memcpy(&value, secret.data() + 4 * chunk, 4);
    std::vector<uint64_t> coef{value};
    for (int64_t k = 1; k < threshold; ++k) coef.push_back(random_element(random));
    for (auto& share : shares) {  // Horner
      uint64_t y = 0;
      for (auto it = coef.rbegin(); it != coef.rend(); ++it) y = field_add(field_mul(y, share.x), *it);
      share.y[chunk] = y;
    }
  }
  return shares;
}

Bytes32 shamir_reconstruct(const std::vector<ShamirShare>& shares) {
  FEDSIGN_CHECK(!shares.empty(), "Shamir: no shares");
  std::set<uint64_t> points;
  for (const auto& s : shares) points.insert(s.x);
  FEDSIGN_CHECK(points.size() == shares.size(), "Shamir: duplicate share points");
  // Lagrange basis at 0: l_i = prod_{j != i} x_j / (x_j - x_i).
  std::vector<uint64_t> basis(shares.size());
  for (std::size_t i = 0; i < shares.size(); ++i) {
    uint64_t num = 1, den = 1;
    for (std::size_t j = 0; j < shares.size(); ++j) {
      if (j == i) continue;
      num = field_mul(num, shares[j].x);
      den = field_mul(den, field_sub(shares[j].x, shares[i].x));
    }
    basis[i] = field_mul(num, field_inv(den));
  }
  Bytes32 secret{};
  for (int chunk = 0; chunk < 8; ++chunk) {
    uint64_t v = 0;
    for (std::size_t i = 0; i < shares.size(); ++i) v = field_add(v, field_mul(shares[i].y[chunk], basis[i]));
    FEDSIGN_CHECK(v <= 0xFFFFFFFFu, "Shamir: shares are inconsistent (chunk {} out of range)", chunk);
    const auto value = static_cast<uint32_t>(v);
    std::memcpy(secret.data() + 4 * chunk, &value, 4);
  }
  return secret;
}

}  // namespace fedsign::fl::privacy
