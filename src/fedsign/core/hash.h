// The project's one non-cryptographic 64-bit hash, for cache keys, file checksums (image cache,
// checkpoints, client states) and transfer checksums: XXH3 from libxxhash, streamed. It runs at
// memory speed, so checksumming a model's weights costs a fraction of writing them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace fedsign {

class Hasher {
 public:
  Hasher();
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;

  void update(const void* data, std::size_t size);
  void update(std::string_view text) { update(text.data(), text.size()); }
  template <typename T>
  void update_value(const T& value) { update(&value, sizeof(T)); }
  // The hash of everything passed to update() so far, independent of how it was chunked.
  std::uint64_t digest() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

std::uint64_t hash_bytes(const void* data, std::size_t size);

// XXH3 of a file's bytes as 16 hex digits (the version stamp of a model file). Throws
// fedsign::Error when the file cannot be read.
std::string file_checksum(const std::filesystem::path& file);

}  // namespace fedsign
