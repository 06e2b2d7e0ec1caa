// The outer loop of a federated run, one for both front doors (the simulation, fl/sim, and the
// network server, net/server): resume from the checkpoint or refuse, run each round through
// fl::Server, decide when to evaluate, checkpoint after every round (atomically, before
// anything else of that round is reported, so a crash loses no completed round), write
// metrics.csv every round and the accuracy/loss charts after evaluated rounds (at most every
// 10 s, and after the last). What differs between the front doors (client states on disk,
// waiting for connections, network accounting) goes through RunHooks.
// Not thread-safe: one driver runs one federation on the calling thread.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "fedsign/fl/run/run_metrics.h"
#include "fedsign/fl/run/server.h"
#include "fedsign/fl/run/server_checkpoint.h"

namespace fedsign::fl {

struct RunConfig {
  int64_t rounds = 10;
  // Evaluate (centrally and on the clients) after every k-th round and after the last; 0: only
  // after the last.
  int64_t eval_every = 1;
  std::filesystem::path run_dir;  // empty: nothing written (tests); no resume
  // Continue from run_dir/server.ckpt. Without a checkpoint the run is refused, never silently
  // started over.
  bool resume = false;
  std::string title = "federated run";  // chart titles
  // The settings that shape the run (JSON object); a resumed run must have the same ones, except
  // that a setting the checkpoint lacks may take its default (settings_defaults_json): an option
  // added to fedsign after the run started, which the run ran without.
  std::string settings_json = "{}";
  std::string settings_defaults_json = "{}";
};

// Whether round `round` (from 1) is evaluated under `config`.
bool evaluates(const RunConfig& config, int64_t round);

// Throws fedsign::Error naming `file` and the changed keys unless the two JSON objects match,
// a key `saved` lacks counting as unchanged while `current` holds its value in `current_defaults`.
void check_same_settings(const std::string& saved, const std::string& current,
                         const std::filesystem::path& file,
                         const std::string& current_defaults = "{}");

// What a front door adds to the loop. Every call is on the driver's thread.
class RunHooks {
 public:
  virtual ~RunHooks() = default;
  // Resuming: the front door's part of the checkpoint (client state index, extra JSON).
  virtual void restore(const ServerCheckpoint& /*checkpoint*/) {}
  // A fresh run (not resumed): e.g. clear client states an earlier run left in the directory.
  virtual void start_fresh() {}
  virtual void before_round(int64_t /*round*/) {}
  // After the round ran, before it is checkpointed.
  virtual void after_round(const RoundRecord& /*record*/) {}
  // Extra metrics.csv columns for the round just run (after after_round).
  virtual Metrics round_columns(int64_t /*round*/) const { return {}; }
  // The checkpoint of `round` is about to be written, durably: make what it will refer to
  // durable first (client state files). Counted as the round's overhead.
  virtual void before_checkpoint(int64_t /*round*/) {}
  // The front door's part of the next checkpoint.
  virtual std::map<ClientId, int64_t> client_states() const { return {}; }
  virtual std::string extra_json() const { return "{}"; }
  // The checkpoint of `round` is on disk (clients' superseded states may go now); counted as
  // the round's overhead.
  virtual void checkpoint_written(int64_t /*round*/) {}
  // The model released after `round` (Strategy::released_model; with a run directory only),
  // e.g. to publish it as model.pt for a service that reloads it (fedsign serve). Counted as
  // the round's overhead.
  virtual void global_model(int64_t /*round*/, const Weights& /*global*/) {}
  // The round is complete and recorded (metrics.csv written): report it.
  virtual void after_checkpoint(const RoundMetrics& /*metrics*/) {}
};

struct RunResult {
  std::vector<RoundMetrics> history;  // resumed runs: the earlier rounds too
  int64_t first_round = 1;            // > 1 when resumed
};

class RunDriver {
 public:
  // All references must outlive the driver.
  RunDriver(Strategy& strategy, const ClientManager& clients, ClientFactory factory,
            RunConfig config, RunHooks& hooks);

  // Runs the remaining rounds on `global` (replaced by each round's new model).
  using RoundCallback = std::function<void(const RoundMetrics&)>;
  RunResult run(Weights& global, const RoundCallback& on_round = {});

  std::filesystem::path checkpoint_file() const { return config_.run_dir / "server.ckpt"; }
  // Server::train_in_parallel.
  void train_in_parallel(ClientThreads& threads, SlotClientFactory factory) {
    server_.train_in_parallel(threads, std::move(factory));
  }

 private:
  Strategy& strategy_;
  Server server_;
  RunConfig config_;
  RunHooks& hooks_;
};

}  // namespace fedsign::fl
