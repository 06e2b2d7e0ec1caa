#include "fedsign/fl/privacy/fixed_point.h"

#include <algorithm>
#include <cmath>

#include "fedsign/core/check.h"

namespace fedsign::fl::privacy {

FixedPointCodec::FixedPointCodec(double bound, int64_t max_summands)
    : bound_(bound), max_summands_(max_summands) {
  FEDSIGN_CHECK(bound > 0 && std::isfinite(bound), "fixed point: bound {} must be > 0", bound);
  FEDSIGN_CHECK(max_summands >= 1 && max_summands < (int64_t{1} << 30),
                "fixed point: {} summands", max_summands);
  const double n = static_cast<double>(max_summands);
  const double limit = (2147483647.0 - n / 2) / (n * bound);
  FEDSIGN_CHECK(limit >= 1.0, "fixed point: {} summands of magnitude {} do not fit in 32 bits "
                "with a step of 1 or finer", max_summands, bound);
  scale_ = std::ldexp(1.0, static_cast<int>(std::floor(std::log2(limit))));
}

namespace {

template <typename T>
std::vector<uint32_t> encode_values(std::span<const T> values, double bound, double scale,
                                    int64_t* clamped) {
  std::vector<uint32_t> words(values.size());
  int64_t outside = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    double x = static_cast<double>(values[i]);
    FEDSIGN_CHECK(std::isfinite(x), "fixed point: non-finite value at index {}", i);
    if (std::abs(x) > bound) {
      ++outside;
      x = std::clamp(x, -bound, bound);
    }
    // |round(x * scale)| <= bound * scale + 1/2 < 2^31: an int32, whose bits are the word.
    words[i] = static_cast<uint32_t>(static_cast<int32_t>(std::llround(x * scale)));
  }
  if (clamped != nullptr) *clamped = outside;
  return words;
}

}  // namespace

std::vector<uint32_t> FixedPointCodec::encode(std::span<const float> values, int64_t* clamped) const {
  return encode_values(values, bound_, scale_, clamped);
}

std::vector<uint32_t> FixedPointCodec::encode(std::span<const double> values,
                                              int64_t* clamped) const {
  return encode_values(values, bound_, scale_, clamped);
}

std::vector<double> FixedPointCodec::decode(const std::vector<uint32_t>& words) const {
  std::vector<double> out(words.size());
  // The two's-complement reading of the word is the signed sum (no wrap by construction).
  for (std::size_t i = 0; i < words.size(); ++i) out[i] = static_cast<int32_t>(words[i]) / scale_;
  return out;
}

void add_words(std::vector<uint32_t>& a, const std::vector<uint32_t>& b, bool subtract) {
  FEDSIGN_CHECK(a.size() == b.size(), "masking: vectors of {} and {} words", a.size(), b.size());
  // uint32 arithmetic wraps modulo 2^32 by definition; the loop vectorizes.
  if (subtract) {
    for (std::size_t i = 0; i < a.size(); ++i) a[i] -= b[i];
  } else {
    for (std::size_t i = 0; i < a.size(); ++i) a[i] += b[i];
  }
}

}  // namespace fedsign::fl::privacy
