// The project's hash (XXH3 through libxxhash): known answers computed independently, independent
// of how the input is chunked, and sensitive to every byte, every bit position and the order of
// words.
#include "fedsign/core/hash.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace fedsign {
namespace {

std::vector<unsigned char> sample(std::size_t n) {
  std::vector<unsigned char> data(n);
  for (std::size_t i = 0; i < n; ++i) data[i] = static_cast<unsigned char>(i * 7 + 3);
  return data;
}

// Known answers from Debian's xxhsum 0.8.1 (package xxhash), XXH3 64-bit with seed 0, e.g.
//   printf abc | xxhsum -H3
//   python3 -c "import sys; sys.stdout.buffer.write(bytes((i*7+3)&255 for i in range(1000)))" | xxhsum -H3
// The empty input's value is also the one published in xxHash's documentation. The lengths cover
// XXH3's code paths: 0, 1-3, 4-8... (short), 129-240 (mid), > 240 (long, several stripes).
TEST(Hasher, KnownAnswers) {
  EXPECT_EQ(hash_bytes(nullptr, 0), 0x2d06800538d394c2ULL);
  EXPECT_EQ(hash_bytes("abc", 3), 0x78af5f94892f3950ULL);
  EXPECT_EQ(hash_bytes("fedsign", 7), 0x03b7d6d3c42ad020ULL);
  const std::vector<std::pair<std::size_t, uint64_t>> samples = {
      {200, 0x746cd0025327bf5bULL}, {1000, 0x6c4f14bd97bd9e82ULL}, {5000, 0x799aaddd7339581dULL}};
  for (const auto& [n, expected] : samples) {
    const auto data = sample(n);
    EXPECT_EQ(hash_bytes(data.data(), data.size()), expected) << n;
    Hasher streamed;
    streamed.update(data.data(), n / 3);
    streamed.update(data.data() + n / 3, n - n / 3);
    EXPECT_EQ(streamed.digest(), expected) << n;
  }
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
