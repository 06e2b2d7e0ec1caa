#include "fedsign/fl/compress/positions.h"

#include <torch/torch.h>

#include <vector>

#include "fedsign/core/check.h"

namespace fedsign::fl::compress {

namespace {

// A varint of a position below 2^31 needs at most five bytes of seven bits.
constexpr int kMaxVarintBytes = 5;

int varint_size(uint64_t v) {
  int n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Calls emit(gap) for each position's gap (the first position itself), checking the order.
template <typename Emit>
void for_each_gap(const torch::Tensor& positions, Emit emit) {
  FEDSIGN_CHECK(positions.dim() == 1, "top-k positions: {} dimensions, not 1", positions.dim());
  const torch::Tensor p = positions.to(torch::kInt64).contiguous();
  const int64_t* x = p.data_ptr<int64_t>();
  int64_t previous = -1;
  for (int64_t i = 0; i < p.numel(); ++i) {
    FEDSIGN_CHECK(x[i] > previous && x[i] <= int64_t{0x7fffffff},
                  "top-k positions: position {} ({}) after {} is not ascending or beyond 2^31",
                  i, x[i], previous);
    emit(static_cast<uint64_t>(x[i] - previous - 1));
    previous = x[i];
  }
}

}  // namespace

int64_t encoded_positions_bytes(const torch::Tensor& positions) {
  int64_t n = 0;
  for_each_gap(positions, [&](uint64_t gap) { n += varint_size(gap); });
  return n;
}

torch::Tensor encode_positions(const torch::Tensor& positions) {
  std::vector<uint8_t> out;
  out.reserve(static_cast<std::size_t>(2 * positions.numel()));
  for_each_gap(positions, [&](uint64_t gap) {
    while (gap >= 0x80) {
      out.push_back(static_cast<uint8_t>(gap | 0x80));
      gap >>= 7;
    }
    out.push_back(static_cast<uint8_t>(gap));
  });
  torch::Tensor bytes = torch::empty({static_cast<int64_t>(out.size())}, torch::kUInt8);
  std::copy(out.begin(), out.end(), bytes.data_ptr<uint8_t>());
  return bytes;
}

torch::Tensor decode_positions(const torch::Tensor& bytes, int64_t count, int64_t numel,
                               const std::string& tensor) {
  FEDSIGN_CHECK(bytes.scalar_type() == torch::kUInt8 && bytes.dim() == 1,
                "top-k update: the positions of tensor '{}' are not 1-D uint8 bytes", tensor);
  FEDSIGN_CHECK(count >= 0 && count <= numel && numel <= int64_t{0x7fffffff},
                "top-k update: {} positions for tensor '{}' of {} values", count, tensor, numel);
  const torch::Tensor b = bytes.contiguous();
  const uint8_t* in = b.data_ptr<uint8_t>();
  const int64_t size = b.numel();
  torch::Tensor out = torch::empty({count}, torch::kInt32);
  int32_t* o = out.data_ptr<int32_t>();
  int64_t at = 0, previous = -1;
  for (int64_t i = 0; i < count; ++i) {
    uint64_t gap = 0;
    for (int shift = 0;; shift += 7) {
      FEDSIGN_CHECK(at < size, "top-k update: the positions of tensor '{}' end after {} of {}",
                    tensor, i, count);
      FEDSIGN_CHECK(shift < 7 * kMaxVarintBytes,
                    "top-k update: a position of tensor '{}' runs past {} bytes", tensor,
                    kMaxVarintBytes);
      const uint8_t byte = in[at++];
      gap |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) break;
    }
    // gap < 2^35 and previous < numel < 2^31: no overflow.
    const int64_t position = previous + 1 + static_cast<int64_t>(gap);
    FEDSIGN_CHECK(position < numel, "top-k update: a position of tensor '{}' is outside its {} values",
                  tensor, numel);
    o[i] = static_cast<int32_t>(position);
    previous = position;
  }
  FEDSIGN_CHECK(at == size, "top-k update: {} bytes left over after the positions of tensor '{}'",
                size - at, tensor);
  return out;
}

}  // namespace fedsign::fl::compress
