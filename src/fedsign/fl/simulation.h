// Federated-learning simulation: many clients on one machine. Owns the round loop's
// surroundings: the global model's initialization, one Worker (a model instance lent to each
// client in turn), the clients' data views and persistent states, faults (dropout,
// stragglers), the server checkpoint after every round (atomic; resume repeats an
// uninterrupted run bit for bit), metrics.csv and the accuracy/loss charts. The strategy and
// the round itself (server.h) are the same ones a network server uses.
//
// Memory: the data set once, one Worker model (+ one for central evaluation), the global
// weights, the strategy's state, one aggregation accumulator and one client result at a time.
// Clients' persistent states (SCAFFOLD's c_i, FedBN's BN tensors) live in files under
// RUN/client_states (in RAM only without a run directory), loaded for the duration of a call.
// Nothing in memory grows with the number of clients beyond their index vectors.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "fedsign/fl/client_manager.h"
#include "fedsign/fl/run_metrics.h"
#include "fedsign/fl/simulated_client.h"
#include "fedsign/fl/strategy.h"

namespace fedsign::fl {

struct SimulationConfig {
  int64_t rounds = 10;
  int64_t eval_every = 1;  // evaluate after every k-th round (and always after the last)
  uint64_t seed = 42;      // global model initialization and faults
  train::TrainConfig local;  // local training: model, batch size, optimizer (lr = local lr) ...
  int64_t num_classes = 43;
  BnMode bn = BnMode::kAggregate;
  double dropout_prob = 0.0;
  double straggler_prob = 0.0;
  double straggler_min_fraction = 0.5;
  std::filesystem::path run_dir;  // empty: write nothing (tests)
  bool resume = false;            // continue from run_dir/server.ckpt
  std::string title = "federated run";  // chart titles
  // Settings that must not change when resuming (JSON object); compared on --resume.
  std::string settings_json = "{}";
};

struct SimulationResult {
  std::vector<RoundMetrics> history;
  Weights global;
  int64_t first_round = 1;  // > 1 when resumed
  int64_t client_states = 0;       // clients with persistent state
  int64_t client_state_bytes = 0;  // their total size
};

class Simulation {
 public:
  // `clients[i]` is client i's data; the strategy outlives the simulation.
  Simulation(const data::ImageSet& set, std::vector<ClientData> clients, Strategy& strategy,
             SimulationConfig config);

  using RoundCallback = std::function<void(const RoundMetrics&)>;
  SimulationResult run(const RoundCallback& on_round = {});

  // The current global model into `file` (fedsign weights format).
  void save_global_model(const std::filesystem::path& file);
  const Weights& global() const { return global_; }
  std::filesystem::path checkpoint_file() const { return config_.run_dir / "server.ckpt"; }

 private:
  const data::ImageSet& set_;
  std::vector<ClientData> clients_;
  Strategy& strategy_;
  SimulationConfig config_;
  FixedClientManager manager_;
  Worker worker_;
  std::unique_ptr<ClientStateStore> states_;
  DiskClientStateStore* disk_states_ = nullptr;  // states_ when it is on disk
  Faults faults_;
  Weights global_;
};

// Central evaluation of global weights on `indices` (the held-out, track-disjoint split) with
// a model instance of its own, for StrategyOptions::evaluate_fn.
CentralEvaluateFn make_central_evaluator(const data::ImageSet& set, data::Indices indices,
                                         const train::TrainConfig& config, int64_t num_classes = 43);

}  // namespace fedsign::fl
