// Which clients exist and how a round's clients are drawn (Flower's ClientManager). The
// simulation numbers its clients 0..N-1 (FixedClientManager); the network server lists the
// connected ones (net::NetClientManager).
// Sampling is a pure function of the seed, so a resumed run draws the same clients.
#pragma once

#include <cstdint>
#include <vector>

#include "fedsign/fl/messages.h"

namespace fedsign::fl {

class ClientManager {
 public:
  virtual ~ClientManager() = default;
  virtual int64_t num_available() const = 0;
  // The available clients, ascending.
  virtual std::vector<ClientId> available() const = 0;
  // min(count, num_available()) distinct clients drawn uniformly without replacement, sorted
  // ascending; the same seed gives the same clients.
  virtual std::vector<ClientId> sample(int64_t count, uint64_t seed) const;
};

// Clients 0..n-1, all always available. Sampling costs O(count), not O(n) (Floyd's algorithm),
// so 10,000 clients cost nothing per round.
class FixedClientManager : public ClientManager {
 public:
  explicit FixedClientManager(int64_t num_clients);
  int64_t num_available() const override { return num_clients_; }
  std::vector<ClientId> available() const override;
  std::vector<ClientId> sample(int64_t count, uint64_t seed) const override;

 private:
  int64_t num_clients_;
};

// `count` distinct integers of [0, n), uniformly, sorted (Floyd's sampling algorithm).
std::vector<int64_t> sample_without_replacement(int64_t n, int64_t count, uint64_t seed);

}  // namespace fedsign::fl
