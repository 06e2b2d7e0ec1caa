// The federated server's checkpoint, written atomically and durably (fsync of the file and of
// its directory) after every round so that `--resume` continues a run exactly. Two generations
// are kept: FILE (the latest) and FILE.prev (the one before); a latest that is missing or
// corrupt (torn disk, bad sector) falls back to the previous one with a warning that says so,
// losing one round instead of the run; the clients' state files it refers to are kept for that
// (client_state.h). Contents: global weights, strategy state (momentum, Adam moments, SCAFFOLD's
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

// Writes FILE (fsync'ed); the FILE it replaces becomes FILE.prev.
void save_server_checkpoint(const std::filesystem::path& file, const ServerCheckpoint& checkpoint);

// FILE.prev: the previous generation.
std::filesystem::path previous_checkpoint(const std::filesystem::path& file);
// True when FILE or FILE.prev exists (what --resume can continue from).
bool server_checkpoint_exists(const std::filesystem::path& file);

// Loads FILE; when it is missing or corrupt, loads FILE.prev instead and logs which file was
// bad and why. Throws fedsign::Error naming both files if neither loads.
ServerCheckpoint load_server_checkpoint(const std::filesystem::path& file);

// FILE.prev's client_states: the state files that must stay while FILE.prev is the fallback.
// Empty when FILE.prev is missing or does not load. Only a front door with client state files
// (the simulation) asks, once, when it resumes.
std::map<ClientId, int64_t> previous_client_states(const std::filesystem::path& file);

}  // namespace fedsign::fl
