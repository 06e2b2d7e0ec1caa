// The project's hash (XXH3 through libxxhash): independent of how the input is chunked, and
// sensitive to every byte, every bit position and the order of words.
#include "fedsign/core/hash.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace fedsign {
namespace {

std::vector<unsigned char> sample(std::size_t n) {
  std::vector<unsigned char> data(n);
  for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<unsigned char>(i * 7 + 3);
  return data;
}

TEST(Hasher, ChunkingDoesNotChangeTheDigest) {
  const auto data = sample(5000);
  const uint64_t whole = hash_bytes(data.data(), data.size());
  for (std::size_t chunk : {1u, 7u, 64u, 1000u}) {
    Hasher h;
    for (std::size_t i = 0; i < data.size(); i += chunk) {
      h.update(data.data() + i, std::min(chunk, data.size() - i));
    }
    EXPECT_EQ(h.digest(), whole) << chunk;
  }
  Hasher moved_from;
  moved_from.update(data.data(), 100);
  Hasher moved = std::move(moved_from);
  moved.update(data.data() + 100, data.size() - 100);
  EXPECT_EQ(moved.digest(), whole);
}

TEST(Hasher, SeesEveryByteAndItsPosition) {
  const auto data = sample(1000);
  const uint64_t h = hash_bytes(data.data(), data.size());
  EXPECT_NE(h, hash_bytes(data.data(), data.size() - 1));
  for (std::size_t i : {0u, 8u, 31u, 32u, 500u, 999u}) {
    for (int bit : {0, 7}) {
      auto changed = data;
      changed[i] ^= static_cast<unsigned char>(1 << bit);
      EXPECT_NE(h, hash_bytes(changed.data(), changed.size())) << i << "/" << bit;
    }
  }
  auto swapped = data;  // two 8-byte words exchanged
  std::swap_ranges(swapped.begin(), swapped.begin() + 8, swapped.begin() + 32);
  EXPECT_NE(h, hash_bytes(swapped.data(), swapped.size()));
  EXPECT_EQ(Hasher().digest(), hash_bytes(nullptr, 0));
}

}  // namespace
}  // namespace fedsign
