// Secure aggregation's cost per round, in process (no network): what one client computes
// (key agreement, Shamir shares, masking = one AES-CTR stream per other client), what the server
// computes to unmask (one stream per survivor plus one per survivor for each dropped client), and
// the bytes each client sends, against plain FedAvg's float32 update.
// Usage: secagg_bench [length=590000] [clients=5,20,50] [dropped=1]
// (length: numbers in the update; default ~ the compact CNN, 0.59M parameters.)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <cstdio>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "fedsign/core/allocator.h"
#include "fedsign/fl/privacy/fixed_point.h"
#include "fedsign/fl/privacy/secagg.h"

using namespace fedsign::fl::privacy;
using Clock = std::chrono::steady_clock;

namespace {
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}
}  // namespace

int main(int argc, char** argv) {
  fedsign::keep_freed_memory_mapped();  // as the fedsign CLI does (core/allocator.h)
  const int64_t length = argc > 1 ? std::stoll(argv[1]) : 590000;
  std::vector<int64_t> counts;
  std::stringstream list(argc > 2 ? argv[2] : "5,20,50");
  for (std::string item; std::getline(list, item, ',');) counts.push_back(std::stoll(item));
  const int64_t dropped = argc > 3 ? std::stoll(argv[3]) : 1;
  std::printf("| clients | dropped | threshold | client s (keys+shares+mask) | server s (unmask) | "
              "bytes sent per client | plain FedAvg bytes | max error |\n|---|---|---|---|---|---|---|---|\n");
  for (int64_t n : counts) {
    const int64_t t = n / 2 + 1;
    const FixedPointCodec codec(1.0, n);
    std::vector<SecAggClient> clients;
    for (int64_t i = 0; i < n; ++i) clients.emplace_back(i, t);  // OpenSSL randomness
    SecAggServer server(t, length);
    std::vector<double> client_seconds(n, 0.0);
    std::vector<int64_t> sent(n, 0);
    for (int64_t i = 0; i < n; ++i) {
      const auto start = Clock::now();
      server.receive_keys(clients[i].advertise());
      client_seconds[i] += seconds_since(start);
      sent[i] += 8 + 64;
    }
    const auto roster = server.keys();
    for (int64_t i = 0; i < n; ++i) {
      const auto start = Clock::now();
      SharedKeys shares = clients[i].share_keys(roster);
      client_seconds[i] += seconds_since(start);
      for (const auto& e : shares.shares) sent[i] += 16 + static_cast<int64_t>(e.ciphertext.size());
      server.receive_shares(std::move(shares));
    }
    std::vector<double> sum(length, 0.0);
    std::mt19937_64 rng(n);
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    for (int64_t i = 0; i < n; ++i) {
      std::vector<double> x(length);
      double norm = 0;
      for (double& v : x) norm += (v = uniform(rng)) * v;
      for (double& v : x) v /= std::sqrt(norm);  // an update clipped to norm 1
      const auto start = Clock::now();
      MaskedInput masked = clients[i].mask(server.shares_for(i), codec.encode(x));
      client_seconds[i] += seconds_since(start);
      sent[i] += 8 + 4 * length;
      if (i < n - dropped) {  // the last `dropped` clients vanish after masking
        server.receive_masked(std::move(masked));
        for (int64_t j = 0; j < length; ++j) sum[j] += x[j];
      }
    }
    const auto survivors = server.survivors();
    for (int64_t i = 0; i < n - dropped; ++i) {
      const auto start = Clock::now();
      const UnmaskingShares answer = clients[i].unmask(survivors);
      client_seconds[i] += seconds_since(start);
      sent[i] += 8 + 72 * static_cast<int64_t>(answer.self_seed_shares.size() +
                                                answer.mask_key_shares.size());
      server.receive_unmasking(answer);
    }
    const auto start = Clock::now();
    const auto words = server.finish();
    const double server_seconds = seconds_since(start);
    const std::vector<double> decoded = codec.decode(words);
    double error = 0;
    for (int64_t j = 0; j < length; ++j) error = std::max(error, std::abs(decoded[j] - sum[j]));
    double mean_client = 0;
    for (double s : client_seconds) mean_client += s / static_cast<double>(n);
    std::printf("| %lld | %lld | %lld | %.3f | %.3f | %lld | %lld | %.2e |\n",
                static_cast<long long>(n), static_cast<long long>(dropped),
                static_cast<long long>(t), mean_client, server_seconds,
                static_cast<long long>(sent[0]), static_cast<long long>(4 * length), error);
  }
  return 0;
}
