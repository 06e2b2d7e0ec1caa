// A small non-cryptographic 64-bit hash (FNV-1a) for cache keys and transfer checksums.
#pragma once

#include <cstdint>
#include <string_view>

namespace fedsign {

class Hasher {
 public:
  void update(const void* data, std::size_t size);
  void update(std::string_view text) { update(text.data(), text.size()); }
  template <typename T>
  void update_value(const T& value) { update(&value, sizeof(T)); }
  std::uint64_t digest() const { return state_; }

 private:
  std::uint64_t state_ = 14695981039346656037ULL;
};

std::uint64_t hash_bytes(const void* data, std::size_t size);

}  // namespace fedsign
