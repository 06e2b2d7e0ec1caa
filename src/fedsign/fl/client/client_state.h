// What a simulated client keeps between rounds (SCAFFOLD's c_i, FedBN's BatchNorm tensors, the
// error-feedback residual of top-k compressed uploads) and
// where it is kept. States are loaded when a client trains or evaluates and saved after, so a
// client never holds more than the duration of a call.
//
// MemoryClientStateStore keeps states in RAM (tests, runs without a run directory).
// DiskClientStateStore keeps them in files DIR/<client>.r<round>.pt, one per client and version,
// and only an index (client -> version) in memory, so memory does not grow with the number of
// clients even for SCAFFOLD, and the per-round server checkpoint stays O(model): a round writes
// only its participants' files, and the checkpoint records the index. A state saved during round
// r never overwrites the version the checkpoint of round r-1 refers to; commit() deletes the
// versions that neither the new checkpoint nor the one before it (the server's fallback,
// server_checkpoint.h) refers to. The checkpoint is written durably (it survives a power cut), so
// sync() forces the round's state files to disk before it: a checkpoint never refers to a state
// that exists only in the page cache. Neither store is thread-safe; LockedClientStateStore makes
// loads and saves of either safe from several threads (clients trained at once).
#pragma once

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fedsign/fl/messages.h"

namespace fedsign::fl {

struct ClientState {
  std::optional<Weights> control;   // SCAFFOLD c_i (trainable tensors)
  std::optional<Weights> local_bn;  // FedBN: the client's BatchNorm tensors
  std::optional<Weights> residual;  // top-k uploads: what earlier uploads left out
  int64_t bytes() const;
  bool empty() const { return !control && !local_bn && !residual; }
};

class ClientStateStore {
 public:
  virtual ~ClientStateStore() = default;
  // nullopt for a client without state.
  virtual std::optional<ClientState> load(ClientId id) const = 0;
  virtual void save(ClientId id, const ClientState& state) = 0;
  virtual int64_t num_states() const = 0;
  virtual int64_t bytes() const = 0;  // in memory or on disk
};

class MemoryClientStateStore : public ClientStateStore {
 public:
  std::optional<ClientState> load(ClientId id) const override;
  void save(ClientId id, const ClientState& state) override { states_[id] = state; }
  int64_t num_states() const override { return static_cast<int64_t>(states_.size()); }
  int64_t bytes() const override;

 private:
  std::map<ClientId, ClientState> states_;
};

// Another store's load, save and counts under one mutex.
class LockedClientStateStore : public ClientStateStore {
 public:
  explicit LockedClientStateStore(ClientStateStore& inner) : inner_(inner) {}
  std::optional<ClientState> load(ClientId id) const override {
    std::lock_guard lock(mutex_);
    return inner_.load(id);
  }
  void save(ClientId id, const ClientState& state) override {
    std::lock_guard lock(mutex_);
    inner_.save(id, state);
  }
  int64_t num_states() const override {
    std::lock_guard lock(mutex_);
    return inner_.num_states();
  }
  int64_t bytes() const override {
    std::lock_guard lock(mutex_);
    return inner_.bytes();
  }

 private:
  ClientStateStore& inner_;
  mutable std::mutex mutex_;
};

// The one state of a single client (a real device running the network client).
class SingleClientStateStore : public ClientStateStore {
 public:
  explicit SingleClientStateStore(ClientState& state) : state_(state) {}
  std::optional<ClientState> load(ClientId) const override {
    if (state_.empty()) return std::nullopt;
    return state_;
  }
  void save(ClientId, const ClientState& state) override { state_ = state; }
  int64_t num_states() const override { return state_.empty() ? 0 : 1; }
  int64_t bytes() const override { return state_.bytes(); }

 private:
  ClientState& state_;
};

// A device's own state file (the network client's --state-file), with the federation run and
// client id the state belongs to, so that it is never carried into another run. Written
// atomically and durably (a vehicle may lose power at any moment).
struct StateOwner {
  std::string run_id;
  ClientId client_id = 0;
};
void save_client_state_file(const std::filesystem::path& file, const ClientState& state,
                            const StateOwner& owner);
// The state in `file` if it belongs to `owner`; nullopt if there is no file or it belongs to
// another run or client. Throws fedsign::Error naming the file when it is truncated or corrupt.
std::optional<ClientState> load_client_state_file(const std::filesystem::path& file,
                                                  const StateOwner& owner);

class DiskClientStateStore : public ClientStateStore {
 public:
  explicit DiskClientStateStore(std::filesystem::path dir);
  std::optional<ClientState> load(ClientId id) const override;
  void save(ClientId id, const ClientState& state) override;
  int64_t num_states() const override { return static_cast<int64_t>(index_.size()); }
  int64_t bytes() const override { return bytes_; }

  // Saves from now on are version `round`.
  void begin_round(int64_t round) { round_ = round; }
  // Forces the files saved since the last sync (and their directory entries) to disk: call
  // before the checkpoint that will refer to them is written.
  void sync();
  int64_t num_unsynced() const { return static_cast<int64_t>(unsynced_.size()); }
  // Call after the checkpoint holding index() is safely written: removes the versions superseded
  // before this round (those superseded in it stay while the previous checkpoint refers to them).
  void commit();
  // Client -> version of its current state file, for the checkpoint.
  const std::map<ClientId, int64_t>& index() const { return index_; }
  // Resuming: adopt a checkpoint's index and delete files that neither it nor `previous` (the
  // index of the checkpoint before it, the server's fallback) refers to: states written by an
  // interrupted round. The files only `previous` refers to go at the next commit.
  void restore(const std::map<ClientId, int64_t>& index,
               const std::map<ClientId, int64_t>& previous = {});
  std::filesystem::path file(ClientId id, int64_t round) const;

 private:
  std::filesystem::path dir_;
  std::map<ClientId, int64_t> index_;
  std::vector<std::pair<int64_t, std::filesystem::path>> superseded_;  // (in round, version)
  std::vector<std::filesystem::path> unsynced_;  // saved, maybe only in the page cache
  int64_t round_ = 0;
  int64_t bytes_ = 0;
};

}  // namespace fedsign::fl
