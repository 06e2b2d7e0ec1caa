// The server's view of remote clients and their tasks, shared by the gRPC service (client-facing
// calls) and the round loop (round_adapter.h). Clients are identified by name; each name gets a
// stable ClientId (kept in the server checkpoint, so ids survive a restart) and each
// registration a fresh session id (256 bits from OpenSSL's CSPRNG). A session is bound to what
// the caller proved at registration: its mTLS certificate name (checked again on every call)
// and, by default, its connection (gRPC peer address), so a session id seen on the wire or in a
// log is useless from another connection. A client is ALIVE while it called within `client_timeout`;
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
  // FIT: the last round whose update from this client is in the model (0: none; -1: unknown,
  // not sent); the client settles its state by it (net/sent_updates.h).
  int64_t last_taken_round = -1;
  fl::Config config;
  std::shared_ptr<const Blob> blob;             // global weights (+ control), shared per round
  std::shared_ptr<const fl::Weights> layout;    // what a FIT update must look like
  double layout_norm = -1;                      // its L2 norm (fl::l2_norm), once per round
  std::shared_ptr<const std::optional<fl::Weights>> control_layout;
  Clock::time_point deadline;
  int64_t deadline_unix_ms = 0;

  // Set by claim() (guarded by the coordinator's mutex): the most examples this result may
  // claim (what the client declared at registration, capped by the server's limit), and when
  // its upload must have finished (the round loop fails the task then; the service cancels the
  // stream): round deadline + upload_grace, brought forward by begin_upload().
  int64_t declared_examples = 0;
  Clock::time_point upload_deadline;
  // commit() passed: the update is being added to the aggregate; the task can no longer fail
  // by deadline, and a failed task can no longer be committed.
  bool committed = false;

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
  // An upload must end within `upload_timeout` of getting its upload slot and within
  // `upload_grace` after the round deadline, whichever comes first.
  std::chrono::milliseconds upload_timeout{120000};
  std::chrono::milliseconds upload_grace{10000};
  // Largest example count a client may declare (and so claim in a result).
  int64_t max_examples = 1000000;
  // A session is valid only from the connection (gRPC peer) that registered it.
  bool bind_session_to_peer = true;
};

// Who makes a session call: the session id it presents and what the transport says about it.
struct Caller {
  std::string session;
  std::string identity;  // mTLS certificate name, empty without client certificates
  std::string peer;      // grpc::ServerContext::peer(), e.g. "ipv4:127.0.0.1:50123"
};

class Coordinator {
 public:
  Coordinator(CoordinatorOptions options, TokenStore& tokens);

  // ---- client-facing (gRPC service)
  // `caller.identity`: the TLS client certificate's common name, empty without mTLS; when
  // present it must equal `name`. The new session is bound to caller.identity and caller.peer.
  Status register_client(const std::string& name, const std::string& token, const Caller& caller,
                         int64_t num_train, int64_t num_test, std::string* session,
                         fl::ClientId* id);
  // Session calls: NOT_FOUND for an unknown session or one presented by another identity or
  // connection (the same answer, so a guesser learns nothing).
  Status heartbeat(const Caller& caller, const std::string& state, int64_t* round);
  // The client id behind a session (a session call: it also counts as a sign of life).
  Status identify(const Caller& caller, fl::ClientId* id);
  // Waits up to `wait` for an open task; *task stays null when there is none. *shutdown is set
  // once the server finished.
  Status next_task(const Caller& caller, std::chrono::milliseconds wait,
                   std::shared_ptr<Task>* task, bool* shutdown);
  // Checks that `task_id` is this client's delivered, still-open task of that round and model
  // version, before its deadline, and claims it for folding (kFolding): the round loop then
  // waits for complete() or fail() until the task's upload deadline.
  Status claim(const Caller& caller, const std::string& task_id, TaskKind kind, int64_t round,
               int64_t model_version, std::shared_ptr<Task>* task);
  // The claimed task's upload starts now (it got an upload slot): its upload deadline becomes
  // min(now + upload_timeout, round deadline + upload_grace). Returns it.
  Clock::time_point begin_upload(const std::shared_ptr<Task>& task);
  // The last step before a claimed update is added to the aggregate: false (and nothing may be
  // added) when the task already failed, e.g. because its upload deadline passed.
  bool commit(const std::shared_ptr<Task>& task);
  // Marks a claimed task done (no effect on a failed one).
  void complete(const std::shared_ptr<Task>& task);
  void fail(const std::shared_ptr<Task>& task, const std::string& reason);
  // A rejected update: counted by reason, logged, task failed.
  void reject(const std::shared_ptr<Task>& task, const std::string& client, const Status& why);

  // ---- round loop
  void post(const std::shared_ptr<Task>& task);
  // Blocks until the task is done or failed; fails it when its deadline passes or its client
  // stops calling, and a claimed one when its upload deadline passes before commit(). Returns
  // the final state.
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
  // The client name behind a session id (empty if none): for log lines only.
  std::string name_of_session(const std::string& session) const;
  int64_t rejected_total() const;
  std::map<std::string, int64_t> rejected_by_reason() const;
  std::atomic<int64_t> bytes_sent{0}, bytes_received{0};

 private:
  struct Slot {
    std::string name;
    std::string session;
    std::string identity, peer;  // what the session is bound to
    Clock::time_point last_seen;
    int64_t num_train = 0, num_test = 0;
    std::string state;
    std::shared_ptr<Task> task;
    bool told_shutdown = false;
  };
  Slot* find_session_locked(const Caller& caller, Status* status);
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
