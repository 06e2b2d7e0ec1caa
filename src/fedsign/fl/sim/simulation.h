// Federated-learning simulation: many clients on one machine. Owns what surrounds the shared
// round loop (fl/driver.h): the global model's initialization, one Worker (a model instance lent
// to each in-process client in turn), the clients' data views and persistent states, simulated
// faults (dropout, stragglers), simulated attackers (attack/attack_options.h: a fixed set chosen
// from the seed; data attackers get a poisoned copy of their images, update attackers change
// their replies, colluding ones act in the aggregation) and compressed uploads
// (compress/upload.h). Checkpoint, resume, evaluation schedule, metrics and charts are the
// driver's, the same as the network server's; the simulation adds the metrics.csv columns
// bytes_up, bytes_down and attackers (sim/upload_client.h).
//
// Attackers' poisoned copies are the one thing held per client: round(fraction x clients)
// copies of a client's images (a few hundred each on GTSRB).
//
// Memory: the data set once, one Worker model (+ one for central evaluation), the global
// weights, the strategy's state, one aggregation accumulator and one client result at a time
// (with --parallel-clients P: P models, up to 2P results waiting for their turn).
// Clients' persistent states (SCAFFOLD's c_i, FedBN's BN tensors) live in files under
// RUN/client_states (in RAM only without a run directory), loaded for the duration of a call.
// Nothing in memory grows with the number of clients beyond their index vectors.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fedsign/fl/attack/attack_options.h"
#include "fedsign/fl/attack/collusion.h"
#include "fedsign/fl/client/local_client.h"
#include "fedsign/fl/client_manager.h"
#include "fedsign/fl/compress/upload.h"
#include "fedsign/fl/run/client_threads.h"
#include "fedsign/fl/run/driver.h"
#include "fedsign/fl/sim/upload_client.h"
#include "fedsign/fl/strategy/strategy.h"

namespace fedsign::fl {

struct SimulationConfig {
  RunConfig run;             // rounds, evaluation schedule, run directory, resume, settings
  uint64_t seed = 42;        // global model initialization and faults
  train::TrainConfig local;  // local training: model, batch size, optimizer (lr = local lr) ...
  int64_t num_classes = 43;
  BnMode bn = BnMode::kAggregate;
  double dropout_prob = 0.0;
  double straggler_prob = 0.0;
  double straggler_min_fraction = 0.5;
  attack::AttackOptions attack;        // kind "none": every client is honest
  compress::CompressOptions compress;  // the clients' upload codec
  // Clients trained at once, each on its own thread with one intra-op thread and its own model
  // (run/client_threads.h); evaluation keeps local.threads. The models are those of a
  // local.threads = 1 run with clients one after another.
  int parallel_clients = 1;
};

struct SimulationResult {
  std::vector<RoundMetrics> history;
  Weights global;
  int64_t first_round = 1;  // > 1 when resumed
  int64_t client_states = 0;       // clients with persistent state
  int64_t client_state_bytes = 0;  // their total size
};

class Simulation : private RunHooks {
 public:
  // `clients[i]` is client i's data; the strategy outlives the simulation.
  Simulation(const data::ImageSet& set, std::vector<ClientData> clients, Strategy& strategy,
             SimulationConfig config);

  using RoundCallback = RunDriver::RoundCallback;
  SimulationResult run(const RoundCallback& on_round = {});

  // The model the run releases (the strategy's released_model of the current global model, e.g.
  // its moving average with --model-ema) into `file` (fedsign weights format).
  void save_global_model(const std::filesystem::path& file);
  const Weights& global() const { return global_; }
  std::filesystem::path checkpoint_file() const { return config_.run.run_dir / "server.ckpt"; }
  // The attacking clients (fixed for the run; empty without an attack).
  const std::set<ClientId>& attackers() const { return attackers_; }

 private:
  // RunHooks: the clients' state files follow the checkpoint.
  void restore(const ServerCheckpoint& checkpoint) override;
  void start_fresh() override;
  void before_round(int64_t round) override;
  void before_checkpoint(int64_t round) override;
  std::map<ClientId, int64_t> client_states() const override;
  void checkpoint_written(int64_t round) override;
  Metrics round_columns(int64_t round) const override;

  // An attacker's poisoned copy of its images (training part poisoned, local test part clean).
  struct PoisonedData {
    data::ImageSet set;
    ClientData data;
  };

  const data::ImageSet& set_;
  std::vector<ClientData> clients_;
  Strategy& strategy_;
  SimulationConfig config_;
  FixedClientManager manager_;
  Worker worker_;
  std::vector<std::unique_ptr<Worker>> slot_workers_;  // slots 1.. of --parallel-clients
  std::unique_ptr<ClientThreads> threads_;
  std::unique_ptr<ClientStateStore> states_;
  std::unique_ptr<LockedClientStateStore> locked_states_;  // states_ for clients on threads
  DiskClientStateStore* disk_states_ = nullptr;  // states_ when it is on disk
  Faults faults_;
  Weights global_;
  std::set<ClientId> attackers_;
  std::map<ClientId, PoisonedData> poisoned_;
  std::unique_ptr<attack::ColludingStrategy> colluding_;  // little-is-enough around strategy_
  RoundTraffic traffic_;  // of the round being run
};

}  // namespace fedsign::fl
