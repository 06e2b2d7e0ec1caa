#include "fedsign/net/blob.h"

#include <fmt/format.h>

namespace fedsign::net {

Blob encode(const WeightGroups& groups) {
  fl::EncodedWeights e = fl::encode_weight_groups(groups);
  return {std::move(e.specs), std::move(e.payload), e.checksum};
}

uint64_t checksum(const std::string& bytes) { return fl::payload_checksum(bytes); }

Status decode(const std::vector<TensorSpec>& specs, const std::string& bytes, uint64_t sum,
              const DecodeLimits& limits, WeightGroups* out) {
  std::string why;
  switch (fl::decode_weight_groups(specs, bytes, sum, limits, out, &why)) {
    case fl::DecodeError::kNone: return Status::Ok();
    case fl::DecodeError::kTooLarge: return {Code::kResourceExhausted, why};
    case fl::DecodeError::kInvalid: break;
  }
  return {Code::kInvalidArgument, why};
}

Status check_announced_size(const std::vector<TensorSpec>& specs, uint64_t total_bytes,
                            int64_t max_bytes) {
  const Status too_large{Code::kResourceExhausted, fmt::format("model larger than {} bytes", max_bytes)};
  int64_t sum = 0;
  for (const auto& spec : specs) {
    int64_t b = static_cast<int64_t>(c10::elementSize(spec.dtype));
    for (int64_t d : spec.shape) {  // overflow-safe product
      if (d < 0) return {Code::kInvalidArgument, "negative dimension"};
      if (d != 0 && b > max_bytes / d) return too_large;
      b *= d;
    }
    if (sum > max_bytes - b) return too_large;
    sum += b;
  }
  if (total_bytes != static_cast<uint64_t>(sum)) {
    return {Code::kInvalidArgument,
            fmt::format("{} bytes announced, the tensors need {}", total_bytes, sum)};
  }
  return Status::Ok();
}

}  // namespace fedsign::net
