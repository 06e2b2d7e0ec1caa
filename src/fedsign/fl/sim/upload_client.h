// What happens to a simulated client's reply between its local training and the server, the
// attack and compression hooks the patch series planned around LocalClient: an attacker's update
// attack (sign-flip, scale, noise: attack::apply_attack) on the trained model, then the upload
// codec (compress/upload.h), whose bytes are counted and whose top-k residual is kept in the
// client's persistent state (ClientState::residual, checkpointed with the others). Data attacks
// (label-flip, backdoor) act earlier, in the images the inner LocalClient trains on; the
// colluding little-is-enough attack later, in the round's aggregation (attack/collusion.h).
// An "abstain" attacker drops out before training: the run every defence is measured against.
// Created per call like LocalClient; all references must outlive it. Clients on several threads
// may share the traffic counters and a thread-safe state store (LockedClientStateStore).
#pragma once

#include <atomic>
#include <memory>

#include "fedsign/fl/attack/attack_options.h"
#include "fedsign/fl/client/client.h"
#include "fedsign/fl/client/client_state.h"
#include "fedsign/fl/compress/upload.h"

namespace fedsign::fl {

// A round's traffic and attackers, summed over its clients (the simulation's metrics.csv
// columns bytes_up, bytes_down, attackers), counted by clients that may train at once.
struct RoundTraffic {
  // client -> server: the (encoded) updates of the clients that trained
  std::atomic<int64_t> bytes_up = 0;
  // server -> client: the float32 global model of every fit instruction
  std::atomic<int64_t> bytes_down = 0;
  // attackers among the clients that trained (abstain: that were asked)
  std::atomic<int64_t> attackers = 0;
  void reset() { bytes_up = bytes_down = attackers = 0; }
};

class UploadClient : public Client {
 public:
  // `attacker`: apply `attack` to this client's update. `seed` drives stochastic rounding.
  UploadClient(std::unique_ptr<Client> inner, ClientId id, bool attacker,
               const attack::AttackOptions& attack, const compress::CompressOptions& compress,
               ClientStateStore& states, uint64_t seed, RoundTraffic& traffic);
  FitResult fit(const FitIns& ins) override;
  EvaluateResult evaluate(const EvaluateIns& ins) override { return inner_->evaluate(ins); }

 private:
  std::unique_ptr<Client> inner_;
  ClientId id_;
  bool attacker_;
  const attack::AttackOptions& attack_;
  const compress::CompressOptions& compress_;
  ClientStateStore& states_;
  uint64_t seed_;
  RoundTraffic& traffic_;
};

}  // namespace fedsign::fl
