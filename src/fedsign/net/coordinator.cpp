#include "fedsign/net/coordinator.h"

#include <spdlog/spdlog.h>

#include "fedsign/core/check.h"
#include "fedsign/net/run_identity.h"

namespace fedsign::net {

std::string to_string(TaskKind kind) { return kind == TaskKind::kFit ? "fit" : "evaluate"; }

Coordinator::Coordinator(CoordinatorOptions options, TokenStore& tokens)
    : options_(options), tokens_(tokens) {}

bool Coordinator::alive_locked(const Slot& slot, Clock::time_point now) const {
  return !slot.session.empty() && now - slot.last_seen < options_.client_timeout;
}

Coordinator::Slot* Coordinator::find_session_locked(const Caller& caller, Status* status) {
  auto it = sessions_.find(caller.session);
  const Slot* bound = it == sessions_.end() ? nullptr : &slots_.at(it->second);
  if (!bound || bound->identity != caller.identity ||
      (options_.bind_session_to_peer && bound->peer != caller.peer)) {
    if (bound) {
      spdlog::warn("session of '{}' presented by {} (identity '{}'), bound to {}: refused",
                   printable(bound->name), printable(caller.peer), printable(caller.identity),
                   printable(bound->peer));
    }
    *status = {Code::kNotFound, "unknown session: register again"};
    return nullptr;
  }
  Slot& slot = slots_.at(it->second);
  if (Status s = tokens_.still_allowed(slot.name); !s.ok()) {
    sessions_.erase(it);
    slot.session.clear();
    *status = s;
    return nullptr;
  }
  slot.last_seen = Clock::now();
  *status = Status::Ok();
  return &slot;
}

Status Coordinator::register_client(const std::string& name, const std::string& token,
                                    const Caller& caller, int64_t num_train, int64_t num_test,
                                    std::string* session, fl::ClientId* id) {
  const std::string& identity = caller.identity;
  if (name.empty() || name.size() > 128) return {Code::kInvalidArgument, "bad client name"};
  if (!identity.empty() && identity != name) {
    return {Code::kUnauthenticated, fmt::format("certificate is for '{}', not for '{}'",
                                                printable(identity), printable(name))};
  }
  if (num_train < 0 || num_test < 0 || num_train > options_.max_examples ||
      num_test > options_.max_examples) {
    return {Code::kInvalidArgument,
            fmt::format("declared {} train / {} test examples: allowed 0..{}", num_train,
                        num_test, options_.max_examples)};
  }
  if (!tokens_.enabled() && identity.empty()) {
    return {Code::kUnauthenticated, "server requires a token or a client certificate"};
  }
  if (tokens_.enabled()) {
    if (Status s = tokens_.authenticate(name, token); !s.ok()) return s;
  }
  std::lock_guard lock(mutex_);
  auto [it, inserted] = ids_.try_emplace(name, 0);
  if (inserted) {
    fl::ClientId next = 0;
    for (const auto& [n, i] : ids_) {
      if (n != name) next = std::max(next, i + 1);
    }
    it->second = next;
  }
  Slot& slot = slots_[it->second];
  if (!slot.session.empty()) sessions_.erase(slot.session);
  // A task handed to the previous session will never come back: fail it now.
  if (slot.task && slot.task->state == Task::State::kDelivered) {
    slot.task->state = Task::State::kFailed;
    slot.task->error = "client re-registered during the task";
    slot.task.reset();
  }
  slot.name = name;
  slot.session = random_hex(32);
  slot.identity = identity;
  slot.peer = caller.peer;
  slot.last_seen = Clock::now();
  slot.num_train = num_train;
  slot.num_test = num_test;
  slot.state = "idle";
  slot.told_shutdown = false;
  sessions_[slot.session] = it->second;
  *session = slot.session;
  *id = it->second;
  cv_.notify_all();
  return Status::Ok();
}

Status Coordinator::heartbeat(const Caller& caller, const std::string& state, int64_t* round) {
  std::lock_guard lock(mutex_);
  Status status;
  Slot* slot = find_session_locked(caller, &status);
  if (!slot) return status;
  slot->state = printable(state, 32);
  *round = round_;
  return Status::Ok();
}

Status Coordinator::identify(const Caller& caller, fl::ClientId* id) {
  std::lock_guard lock(mutex_);
  Status status;
  if (!find_session_locked(caller, &status)) return status;
  *id = sessions_.at(caller.session);
  return Status::Ok();
}

Status Coordinator::next_task(const Caller& caller, std::chrono::milliseconds wait,
                              std::shared_ptr<Task>* task, bool* shutdown) {
  const auto until = Clock::now() + wait;
  std::unique_lock lock(mutex_);
  task->reset();
  *shutdown = false;
  while (true) {
    Status status;
    Slot* slot = find_session_locked(caller, &status);
    if (!slot) return status;
    if (slot->task && slot->task->state == Task::State::kPending) {
      slot->task->state = Task::State::kDelivered;
      *task = slot->task;
      return Status::Ok();
    }
    if (shutdown_) {
      slot->told_shutdown = true;
      *shutdown = true;
      cv_.notify_all();
      return Status::Ok();
    }
    if (cv_.wait_until(lock, until) == std::cv_status::timeout) return Status::Ok();
  }
}

Status Coordinator::claim(const Caller& caller, const std::string& task_id, TaskKind kind,
                          int64_t round, int64_t model_version, std::shared_ptr<Task>* task) {
  std::lock_guard lock(mutex_);
  Status status;
  Slot* slot = find_session_locked(caller, &status);
  if (!slot) return status;
  const std::shared_ptr<Task>& t = slot->task;
  if (!t || t->id != task_id || t->state != Task::State::kDelivered) {
    return {Code::kFailedPrecondition,
            fmt::format("task '{}' is not open (stale, replayed or timed out)", printable(task_id))};
  }
  const auto now = Clock::now();
  if (now >= t->deadline) {
    return {Code::kFailedPrecondition, fmt::format("task '{}': round deadline passed", t->id)};
  }
  *task = t;  // from here on a rejection fails this task
  if (t->kind != kind) return {Code::kInvalidArgument, "result kind does not match the task"};
  if (round != t->round) {
    return {Code::kFailedPrecondition,
            fmt::format("stale round {} (current task is for round {})", round, t->round)};
  }
  if (model_version != t->model_version) {
    return {Code::kFailedPrecondition, fmt::format("model version {} (expected {})",
                                                   model_version, t->model_version)};
  }
  t->state = Task::State::kFolding;
  t->declared_examples =
      std::min(kind == TaskKind::kFit ? slot->num_train : slot->num_test, options_.max_examples);
  t->upload_deadline = t->deadline + options_.upload_grace;
  return Status::Ok();
}

Clock::time_point Coordinator::begin_upload(const std::shared_ptr<Task>& task) {
  std::lock_guard lock(mutex_);
  task->upload_deadline = std::min(Clock::now() + options_.upload_timeout,
                                   task->deadline + options_.upload_grace);
  return task->upload_deadline;
}

bool Coordinator::commit(const std::shared_ptr<Task>& task) {
  std::lock_guard lock(mutex_);
  if (task->state != Task::State::kFolding) return false;
  task->committed = true;
  return true;
}

void Coordinator::complete(const std::shared_ptr<Task>& task) {
  std::lock_guard lock(mutex_);
  if (task->state == Task::State::kFailed) return;
  task->state = Task::State::kDone;
  cv_.notify_all();
}

void Coordinator::fail(const std::shared_ptr<Task>& task, const std::string& reason) {
  std::lock_guard lock(mutex_);
  if (task->state == Task::State::kDone || task->state == Task::State::kFailed) return;
  task->state = Task::State::kFailed;
  task->error = reason;
  cv_.notify_all();
}

void Coordinator::reject(const std::shared_ptr<Task>& task, const std::string& client,
                         const Status& why) {
  {
    std::lock_guard lock(mutex_);
    ++rejected_;
    ++rejected_by_reason_[to_string(why.code)];
  }
  spdlog::warn("rejected update from '{}'{}: {}", printable(client),
               task ? fmt::format(" (round {})", task->round) : "", why.to_string());
  if (task) fail(task, "update rejected: " + why.message);
}

void Coordinator::post(const std::shared_ptr<Task>& task) {
  std::lock_guard lock(mutex_);
  Slot& slot = slots_[task->client];
  if (slot.task && (slot.task->state == Task::State::kPending ||
                    slot.task->state == Task::State::kDelivered)) {
    slot.task->state = Task::State::kFailed;
    slot.task->error = "superseded by a new task";
  }
  slot.task = task;
  cv_.notify_all();
}

Task::State Coordinator::wait(const std::shared_ptr<Task>& task) {
  std::unique_lock lock(mutex_);
  while (true) {
    if (task->state == Task::State::kDone || task->state == Task::State::kFailed) break;
    const auto now = Clock::now();
    if (task->state == Task::State::kFolding && !task->committed && now >= task->upload_deadline) {
      task->state = Task::State::kFailed;
      task->error = "upload deadline passed";
      break;
    }
    if (task->state != Task::State::kFolding) {
      auto it = slots_.find(task->client);
      if (now >= task->deadline) {
        task->state = Task::State::kFailed;
        task->error = "round deadline passed";
        break;
      }
      if (it == slots_.end() || !alive_locked(it->second, now)) {
        task->state = Task::State::kFailed;
        task->error = "client disconnected";
        break;
      }
    }
    cv_.wait_until(lock, now + std::chrono::milliseconds(200));
  }
  auto it = slots_.find(task->client);
  if (it != slots_.end() && it->second.task == task) it->second.task.reset();
  return task->state;
}

void Coordinator::set_round(int64_t round) {
  std::lock_guard lock(mutex_);
  round_ = round;
}

int64_t Coordinator::round() const {
  std::lock_guard lock(mutex_);
  return round_;
}

std::vector<fl::ClientId> Coordinator::alive_clients() const {
  std::lock_guard lock(mutex_);
  std::vector<fl::ClientId> out;
  const auto now = Clock::now();
  for (const auto& [id, slot] : slots_) {
    if (alive_locked(slot, now)) out.push_back(id);
  }
  return out;
}

bool Coordinator::wait_for_clients(int64_t count, std::chrono::milliseconds timeout) {
  const auto until = Clock::now() + timeout;
  while (static_cast<int64_t>(alive_clients().size()) < count) {
    if (Clock::now() >= until) return false;
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, std::chrono::milliseconds(200));
  }
  return true;
}

void Coordinator::shutdown() {
  std::lock_guard lock(mutex_);
  shutdown_ = true;
  cv_.notify_all();
}

bool Coordinator::all_told_shutdown() const {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  for (const auto& [id, slot] : slots_) {
    if (alive_locked(slot, now) && !slot.told_shutdown) return false;
  }
  return true;
}

std::map<std::string, fl::ClientId> Coordinator::ids() const {
  std::lock_guard lock(mutex_);
  return ids_;
}

void Coordinator::restore_ids(const std::map<std::string, fl::ClientId>& ids) {
  std::lock_guard lock(mutex_);
  ids_ = ids;
  for (const auto& [name, id] : ids) slots_[id].name = name;
}

std::vector<ClientInfo> Coordinator::clients() const {
  std::lock_guard lock(mutex_);
  std::vector<ClientInfo> out;
  const auto now = Clock::now();
  for (const auto& [id, slot] : slots_) {
    if (slot.session.empty()) continue;
    out.push_back({id, slot.name, alive_locked(slot, now),
                   std::chrono::duration<double>(now - slot.last_seen).count(), slot.num_train,
                   slot.num_test, slot.state});
  }
  return out;
}

std::string Coordinator::name_of(fl::ClientId id) const {
  std::lock_guard lock(mutex_);
  auto it = slots_.find(id);
  return it == slots_.end() ? std::to_string(id) : it->second.name;
}

std::string Coordinator::name_of_session(const std::string& session) const {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(session);
  return it == sessions_.end() ? std::string() : slots_.at(it->second).name;
}

int64_t Coordinator::rejected_total() const {
  std::lock_guard lock(mutex_);
  return rejected_;
}

std::map<std::string, int64_t> Coordinator::rejected_by_reason() const {
  std::lock_guard lock(mutex_);
  return rejected_by_reason_;
}

}  // namespace fedsign::net
