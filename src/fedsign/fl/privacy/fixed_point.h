// Fixed-point encoding of real vectors into Z_(2^32), the ring in which secure aggregation
// adds masked inputs. A value x with |x| <= bound becomes round(x * scale) mod 2^32; the sum of
// `max_summands` such words, read back as a signed 32-bit integer and divided by scale, is the
// sum of the rounded values, exactly, provided it never wraps:
//     max_summands * (bound * scale + 1/2) <= 2^31 - 1.
// The codec takes the largest power of two satisfying that,
//     scale = 2^floor(log2((2^31 - 1 - max_summands / 2) / (max_summands * bound))),
// so the sum's error is at most max_summands / (2 scale) per coordinate (each value is off by at
// most half a step 1/scale). An update clipped to L2 norm C has every coordinate in [-C, C], so
// bound = C suffices for clipped updates; with distributed DP noise of stddev s per client, use
// bound = C + 6 s (values beyond the bound are clamped, which is post-processing for DP).
// No LibTorch (a caller passes a flattened tensor's data). Immutable, thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace fedsign::fl::privacy {

class FixedPointCodec {
 public:
  FixedPointCodec(double bound, int64_t max_summands);

  double bound() const { return bound_; }
  double scale() const { return scale_; }
  double step() const { return 1.0 / scale_; }
  int64_t max_summands() const { return max_summands_; }
  // The worst-case error of a decoded sum of max_summands encoded values, per coordinate.
  double max_sum_error() const { return 0.5 * static_cast<double>(max_summands_) / scale_; }

  // Values to words; values are clamped to [-bound, bound] and `clamped` (optional) receives
  // how many were. Throws fedsign::Error on a non-finite value.
  std::vector<uint32_t> encode(std::span<const float> values, int64_t* clamped = nullptr) const;
  std::vector<uint32_t> encode(std::span<const double> values, int64_t* clamped = nullptr) const;
  // Words (a sum of at most max_summands encodings, mod 2^32) to reals.
  std::vector<double> decode(const std::vector<uint32_t>& words) const;

 private:
  double bound_;
  int64_t max_summands_;
  double scale_;
};

// Adds b into a modulo 2^32 (a += sign * b), the ring operation of masking.
void add_words(std::vector<uint32_t>& a, const std::vector<uint32_t>& b, bool subtract = false);

}  // namespace fedsign::fl::privacy
