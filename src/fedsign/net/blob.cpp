#include "fedsign/net/blob.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <cstring>
#include <limits>

#include "fedsign/core/hash.h"

namespace fedsign::net {

bool supported_dtype(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::ScalarType::Float:
    case c10::ScalarType::Double:
    case c10::ScalarType::BFloat16:
    case c10::ScalarType::Half:
    case c10::ScalarType::Long:
    case c10::ScalarType::Int: return true;
    default: return false;
  }
}

int64_t TensorSpec::bytes() const {
  int64_t n = static_cast<int64_t>(c10::elementSize(dtype));
  for (int64_t d : shape) n *= d;
  return n;
}

uint64_t checksum(const std::string& bytes) { return hash_bytes(bytes.data(), bytes.size()); }

Blob encode(const WeightGroups& groups) {
  Blob blob;
  std::size_t total = 0;
  for (const auto& [group, w] : groups) {
    for (std::size_t i = 0; i < w.size(); ++i) {
      const torch::Tensor& t = w.tensors[i];
      blob.specs.push_back({group, w.names[i], t.scalar_type(), t.sizes().vec()});
      total += t.numel() * t.element_size();
    }
  }
  blob.bytes.resize(total);
  std::size_t offset = 0;
  for (const auto& [group, w] : groups) {
    for (const torch::Tensor& tensor : w.tensors) {
      const torch::Tensor t = tensor.cpu().contiguous();
      const std::size_t n = t.numel() * t.element_size();
      if (n) std::memcpy(blob.bytes.data() + offset, t.data_ptr(), n);
      offset += n;
    }
  }
  blob.checksum = checksum(blob.bytes);
  return blob;
}

Status decode(const std::vector<TensorSpec>& specs, const std::string& bytes, uint64_t sum,
              const DecodeLimits& limits, WeightGroups* out) {
  if (static_cast<int64_t>(specs.size()) > limits.max_tensors) {
    return {Code::kResourceExhausted, fmt::format("{} tensors, limit {}", specs.size(), limits.max_tensors)};
  }
  if (static_cast<int64_t>(bytes.size()) > limits.max_bytes) {
    return {Code::kResourceExhausted,
            fmt::format("{} bytes, limit {}", bytes.size(), limits.max_bytes)};
  }
  int64_t total = 0;
  for (const auto& s : specs) {
    if (!supported_dtype(s.dtype)) {
      return {Code::kInvalidArgument, fmt::format("tensor '{}': unsupported dtype", s.name)};
    }
    int64_t n = static_cast<int64_t>(c10::elementSize(s.dtype));
    for (int64_t d : s.shape) {
      if (d < 0 || (d > 0 && n > std::numeric_limits<int64_t>::max() / d)) {
        return {Code::kInvalidArgument, fmt::format("tensor '{}': bad shape", s.name)};
      }
      n *= d;
    }
    total += n;
    if (total > limits.max_bytes) {
      return {Code::kResourceExhausted, fmt::format("tensors larger than {} bytes", limits.max_bytes)};
    }
  }
  if (total != static_cast<int64_t>(bytes.size())) {
    return {Code::kInvalidArgument,
            fmt::format("blob has {} bytes, its tensors need {}", bytes.size(), total)};
  }
  if (checksum(bytes) != sum) return {Code::kInvalidArgument, "checksum mismatch"};
  WeightGroups groups;
  std::size_t offset = 0;
  for (const auto& s : specs) {
    torch::Tensor t = torch::empty(s.shape, torch::TensorOptions().dtype(s.dtype));
    const std::size_t n = static_cast<std::size_t>(s.bytes());
    if (n) std::memcpy(t.data_ptr(), bytes.data() + offset, n);
    offset += n;
    fl::Weights& w = groups[s.group];
    w.names.push_back(s.name);
    w.tensors.push_back(std::move(t));
  }
  *out = std::move(groups);
  return Status::Ok();
}

}  // namespace fedsign::net
