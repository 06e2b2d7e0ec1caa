#include "fedsign/fl/client_manager.h"

#include <algorithm>
#include <random>
#include <unordered_set>

#include "fedsign/core/check.h"

namespace fedsign::fl {

std::vector<int64_t> sample_without_replacement(int64_t n, int64_t count, uint64_t seed) {
  FEDSIGN_CHECK(n >= 0 && count >= 0, "sample {} of {} clients", count, n);
  count = std::min(count, n);
  std::mt19937_64 rng(seed);
  std::unordered_set<int64_t> chosen;
  std::vector<int64_t> out;
  out.reserve(static_cast<std::size_t>(count));
  for (int64_t j = n - count; j < n; ++j) {
    const int64_t t = std::uniform_int_distribution<int64_t>(0, j)(rng);
    const int64_t pick = chosen.count(t) ? j : t;
    chosen.insert(pick);
    out.push_back(pick);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<ClientId> ClientManager::sample(int64_t count, uint64_t seed) const {
  const std::vector<ClientId> all = available();
  std::vector<ClientId> out;
  for (int64_t i : sample_without_replacement(static_cast<int64_t>(all.size()), count, seed)) {
    out.push_back(all[static_cast<std::size_t>(i)]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

FixedClientManager::FixedClientManager(int64_t num_clients) : num_clients_(num_clients) {
  FEDSIGN_CHECK(num_clients > 0, "need at least one client, got {}", num_clients);
}

std::vector<ClientId> FixedClientManager::available() const {
  std::vector<ClientId> ids(static_cast<std::size_t>(num_clients_));
  for (int64_t i = 0; i < num_clients_; ++i) ids[static_cast<std::size_t>(i)] = i;
  return ids;
}

std::vector<ClientId> FixedClientManager::sample(int64_t count, uint64_t seed) const {
  return sample_without_replacement(num_clients_, count, seed);
}

}  // namespace fedsign::fl
