#include "fedsign/core/hash.h"

namespace fedsign {

void Hasher::update(const void* data, std::size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  std::uint64_t h = state_;
  for (std::size_t i = 0; i < size; ++i) {
    h ^= bytes[i];
    h *= 1099511628211ULL;
  }
  state_ = h;
}

std::uint64_t hash_bytes(const void* data, std::size_t size) {
  Hasher h;
  h.update(data, size);
  return h.digest();
}

}  // namespace fedsign
