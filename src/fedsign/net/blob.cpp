#include "fedsign/net/blob.h"

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

}  // namespace fedsign::net
