// The server's view of remote clients and their tasks, shared by the gRPC service (client-facing
// calls) and the round loop (round_adapter.h). Clients are identified by name; each name gets a
// stable ClientId (kept in the server checkpoint, so ids survive a restart) and each
// registration a fresh session id. A client is ALIVE while it called within `client_timeout`;
// the round loop samples only alive clients and fails a task whose client stops calling, whose
// deadline passes, or whose update is rejected. At most one open task per client.
// Thread-safe: one mutex, one condition variable.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "fedsign/fl/client_manager.h"
#include "fedsign/fl/messages.h"
#include "fedsign/net/blob.h"
#include "fedsign/net/status.h"
#include "fedsign/net/tokens.h"

namespace fedsign::net {

using Clock = std::chrono::steady_clock;

enum class TaskKind { kFit, kEvaluate };
std::string to_string(TaskKind kind);

// One instruction to one client, and its outcome.
struct Task {
  enum class State { kPending, kDelivered, kFolding, kDone, kFailed };

  std::string id;
  TaskKind kind = TaskKind::kFit;
  fl::ClientId client = 0;
  int64_t round = 0;
  int64_t model_version = 0;  // rounds completed when the weights were made
  fl::Config config;
  std::shared_ptr<const Blob> blob;             // global weights (+ control), shared per round
  std::shared_ptr<const fl::Weights> layout;    // what a FIT update must look like
  std::shared_ptr<const std::optional<fl::Weights>> control_layout;
  Clock::time_point deadline;
  int64_t deadline_unix_ms = 0;

  // Outcome (guarded by the coordinator's mutex).
  State state = State::kPending;
  std::string error;
  int64_t num_examples = 0;
  double loss = 0;
  fl::Metrics metrics;
};

struct ClientInfo {  // a snapshot for the status endpoint
  fl::ClientId id = 0;
  std::string name;
  bool alive = false;
  double seconds_since_seen = 0;
  int64_t num_train_examples = 0, num_test_examples = 0;
  std::string state;
};

struct CoordinatorOptions {
  std::chrono::milliseconds client_timeout{15000};
  std::chrono::milliseconds heartbeat{2000};
};

class Coordinator {
 public:
  Coordinator(CoordinatorOptions options, TokenStore& tokens);

  // ---- client-facing (gRPC service)
  // `identity`: the TLS client certificate's common name, empty without mTLS; when present it
  // must equal `name`.
  Status register_client(const std::string& name, const std::string& token,
                         const std::string& identity, int64_t num_train, int64_t num_test,
                         std::string* session, fl::ClientId* id);
  Status heartbeat(const std::string& session, const std::string& state, int64_t* round);
  // Waits up to `wait` for an open task; *task stays null when there is none. *shutdown is set
  // once the server finished.
  Status next_task(const std::string& session, std::chrono::milliseconds wait,
                   std::shared_ptr<Task>* task, bool* shutdown);
  // Checks that `task_id` is this client's delivered, still-open task of that round and model
  // version, and claims it for folding (kFolding): the round loop then waits for complete()
  // or fail() even past the deadline.
  Status claim(const std::string& session, const std::string& task_id, TaskKind kind,
               int64_t round, int64_t model_version, std::shared_ptr<Task>* task);
  void complete(const std::shared_ptr<Task>& task);
  void fail(const std::shared_ptr<Task>& task, const std::string& reason);
  // A rejected update: counted by reason, logged, task failed.
  void reject(const std::shared_ptr<Task>& task, const std::string& client, const Status& why);

  // ---- round loop
  void post(const std::shared_ptr<Task>& task);
  // Blocks until the task is done or failed; fails it when its deadline passes or its client
  // stops calling. Returns the final state.
  Task::State wait(const std::shared_ptr<Task>& task);
  void set_round(int64_t round);
  int64_t round() const;
  std::vector<fl::ClientId> alive_clients() const;
  // Waits until `count` clients are alive; false on timeout.
  bool wait_for_clients(int64_t count, std::chrono::milliseconds timeout);
  void shutdown();
  // Clients told to shut down since shutdown(), of those alive.
  bool all_told_shutdown() const;

  // ---- bookkeeping
  std::map<std::string, fl::ClientId> ids() const;
  void restore_ids(const std::map<std::string, fl::ClientId>& ids);
  std::vector<ClientInfo> clients() const;
  std::string name_of(fl::ClientId id) const;
  int64_t rejected_total() const;
  std::map<std::string, int64_t> rejected_by_reason() const;
  std::atomic<int64_t> bytes_sent{0}, bytes_received{0};

 private:
  struct Slot {
    std::string name;
    std::string session;
    Clock::time_point last_seen;
    int64_t num_train = 0, num_test = 0;
    std::string state;
    std::shared_ptr<Task> task;
    bool told_shutdown = false;
  };
  Slot* find_session_locked(const std::string& session, Status* status);
  bool alive_locked(const Slot& slot, Clock::time_point now) const;

  CoordinatorOptions options_;
  TokenStore& tokens_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::map<fl::ClientId, Slot> slots_;
  std::map<std::string, fl::ClientId> ids_;        // name -> id
  std::map<std::string, fl::ClientId> sessions_;  // session -> id
  int64_t round_ = 0;
  bool shutdown_ = false;
  int64_t rejected_ = 0;
  std::map<std::string, int64_t> rejected_by_reason_;
};

// A ClientManager over the coordinator's alive clients (sampling as in fl::ClientManager).
class NetClientManager : public fl::ClientManager {
 public:
  explicit NetClientManager(const Coordinator& coordinator) : coordinator_(coordinator) {}
  int64_t num_available() const override {
    return static_cast<int64_t>(coordinator_.alive_clients().size());
  }
  std::vector<fl::ClientId> available() const override { return coordinator_.alive_clients(); }

 private:
  const Coordinator& coordinator_;
};

}  // namespace fedsign::net
