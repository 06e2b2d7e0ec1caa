#include "fedsign/core/hash.h"

#include <fmt/format.h>

#include <fstream>
#include <vector>

#include "fedsign/core/check.h"

// Header-only use of libxxhash (Debian's libxxhash-dev): nothing to link.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace fedsign {

struct Hasher::State {
  XXH3_state_t xxh;
};

Hasher::Hasher() : state_(std::make_unique<State>()) { XXH3_64bits_reset(&state_->xxh); }
Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(const void* data, std::size_t size) {
  XXH3_64bits_update(&state_->xxh, data, size);
}

std::uint64_t Hasher::digest() const { return XXH3_64bits_digest(&state_->xxh); }

std::uint64_t hash_bytes(const void* data, std::size_t size) { return XXH3_64bits(data, size); }

std::string file_checksum(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  FEDSIGN_CHECK(in.good(), "{}: cannot read", file.string());
  Hasher hasher;
  std::vector<char> buffer(1 << 16);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    hasher.update(buffer.data(), static_cast<std::size_t>(in.gcount()));
  }
  return fmt::format("{:016x}", hasher.digest());
}

}  // namespace fedsign
