// One federated round, independent of where clients live: configure_fit -> run each sampled
// client -> fold its result into the strategy's aggregation -> (every k rounds) central and
// federated evaluation. The simulation drives it with in-process clients; the network server
// can drive it with proxies of remote clients. Clients run one after another, or, given
// ClientThreads (the simulation's --parallel-clients), several at once with their results folded
// in sampling order; a client that throws is a Failure.
#pragma once

#include <functional>
#include <memory>
#include <optional>

#include "fedsign/fl/client/client.h"
#include "fedsign/fl/client_manager.h"
#include "fedsign/fl/strategy/strategy.h"

namespace fedsign::fl {

// Returns the client to talk to for `id` (created on demand; the simulation builds a light
// LocalClient, the network server returns a proxy).
using ClientFactory = std::function<std::unique_ptr<Client>(ClientId)>;
// The same for clients trained on thread `slot` of ClientThreads (each slot its own model).
using SlotClientFactory = std::function<std::unique_ptr<Client>(ClientId, int slot)>;
class ClientThreads;

struct RoundRecord {
  int64_t round = 0;
  int64_t clients_sampled = 0;
  std::vector<Failure> failures;
  Metrics fit_metrics;  // aggregated clients' metrics (train_loss, train_accuracy ...)
  std::optional<EvaluateSummary> central, federated;
  double seconds = 0;        // wall time of the round
  // Local training: the sum over clients of what they report. With clients trained at once,
  // the fit phase's wall time times the share of the clients' time they report as training.
  double train_seconds = 0;
  double eval_seconds = 0;   // central + federated evaluation
  // Extra metrics.csv columns: the aggregation's robust_*, clip_* and attack_* metrics, central
  // evaluation metrics beside accuracy (e.g. backdoor_asr), and what the front door adds
  // (RunHooks::round_columns: the simulation's bytes_up, attackers).
  Metrics columns;
  double overhead_seconds() const { return seconds - train_seconds - eval_seconds; }
};

class Server {
 public:
  Server(Strategy& strategy, const ClientManager& clients, ClientFactory factory);

  // Runs round `round` (from 1) on `global`, which is replaced by the new global model.
  RoundRecord run_round(int64_t round, Weights& global, bool evaluate);

  // Fits from now on run on `threads` (which must outlive the server), each client made by
  // `factory` for its slot. Evaluation stays on the calling thread, with the plain factory.
  void train_in_parallel(ClientThreads& threads, SlotClientFactory factory);

 private:
  void fit_clients(int64_t round, std::vector<FitInstruction>& instructions,
                   FitAggregation& aggregation, RoundRecord& record);

  Strategy& strategy_;
  const ClientManager& clients_;
  ClientFactory factory_;
  ClientThreads* threads_ = nullptr;
  SlotClientFactory slot_factory_;
};

}  // namespace fedsign::fl
