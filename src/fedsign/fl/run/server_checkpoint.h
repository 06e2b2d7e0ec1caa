// The federated server's checkpoint, written atomically after every round so that `--resume`
// continues a run exactly: global weights, strategy state (momentum, Adam moments, SCAFFOLD's
// c), the index of the clients' state files (client_state.h), the round, the metrics history
// and the run's settings (checked on resume). Format: save_weight_groups (weight_groups.h).
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "fedsign/fl/messages.h"

namespace fedsign::fl {

struct ServerCheckpoint {
  int64_t round = 0;  // last completed round
  std::string strategy;
  Weights global;
  std::map<std::string, Weights> strategy_state;
  std::map<ClientId, int64_t> client_states;  // DiskClientStateStore::index()
  std::string history_json = "[]";   // run_metrics.h
  std::string settings_json = "{}";  // what must not change on resume
  std::string extra_json = "{}";     // the front door's own state (the network's client ids ...)
};

void save_server_checkpoint(const std::filesystem::path& file, const ServerCheckpoint& checkpoint);

// Throws fedsign::Error naming the file if it is missing, truncated or not a checkpoint.
ServerCheckpoint load_server_checkpoint(const std::filesystem::path& file);

}  // namespace fedsign::fl
