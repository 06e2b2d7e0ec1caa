// Seeds as pure functions of (run seed, round, client, purpose), so every random choice of a
// federated run (sampling, dropout, stragglers, local shuffling) can be recomputed after a
// restart: a resumed run repeats an uninterrupted one exactly. No LibTorch.
#pragma once

#include <cstdint>
#include <initializer_list>

namespace fedsign::fl {

// SplitMix64 finalizer: a well-mixed 64-bit hash of `x`.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A seed derived from `seed` and the given parts, order-sensitive.
inline uint64_t derive_seed(uint64_t seed, std::initializer_list<uint64_t> parts) {
  uint64_t h = splitmix64(seed);
  for (uint64_t p : parts) h = splitmix64(h ^ splitmix64(p + 0x632be59bd9b4e019ULL));
  return h;
}

// A uniform double in [0, 1) from a seed.
inline double uniform01(uint64_t seed) {
  return static_cast<double>(splitmix64(seed) >> 11) * 0x1.0p-53;
}

// Purposes, so that two kinds of draws in the same round never share a seed.
enum class Stream : uint64_t {
  kFitSample = 1,
  kEvaluateSample = 2,
  kDropout = 3,
  kStraggler = 4,
  kLocalTraining = 5,
  kDpNoise = 6,  // a simulated client's share of distributed DP noise
  kUploadCodec = 7,  // stochastic rounding of compressed uploads
};

inline uint64_t stream_seed(uint64_t seed, Stream stream, int64_t round, int64_t client = -1) {
  return derive_seed(seed, {static_cast<uint64_t>(stream), static_cast<uint64_t>(round),
                            static_cast<uint64_t>(client)});
}

}  // namespace fedsign::fl
