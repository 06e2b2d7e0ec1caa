#include "fedsign/net/watchdog.h"

namespace fedsign::net {

Watchdog::Watchdog() : thread_([this] { run(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Watchdog::Ticket Watchdog::arm(Clock::time_point deadline, std::function<void()> cancel) {
  Ticket ticket;
  ticket.owner_ = this;
  ticket.fired_ = std::make_shared<std::atomic<bool>>(false);
  {
    std::lock_guard lock(mutex_);
    ticket.id_ = next_id_++;
    entries_[ticket.id_] = {deadline, std::move(cancel), ticket.fired_};
  }
  cv_.notify_all();
  return ticket;
}

void Watchdog::disarm(uint64_t id) {
  std::lock_guard lock(mutex_);
  entries_.erase(id);
}

void Watchdog::move(uint64_t id, Clock::time_point deadline) {
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    it->second.deadline = deadline;
  }
  cv_.notify_all();
}

void Watchdog::run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    auto next = Clock::time_point::max();
    const auto now = Clock::now();
    for (auto it = entries_.begin(); it != entries_.end();) {
      if (it->second.deadline <= now) {
        it->second.fired->store(true);
        ++fired_total_;
        it->second.cancel();
        it = entries_.erase(it);
      } else {
        next = std::min(next, it->second.deadline);
        ++it;
      }
    }
    if (next == Clock::time_point::max()) cv_.wait(lock);
    else cv_.wait_until(lock, next);
  }
}

Watchdog::Ticket& Watchdog::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    if (owner_) owner_->disarm(id_);
    owner_ = other.owner_;
    id_ = other.id_;
    fired_ = std::move(other.fired_);
    other.owner_ = nullptr;
  }
  return *this;
}

Watchdog::Ticket::~Ticket() {
  if (owner_) owner_->disarm(id_);
}

void Watchdog::Ticket::set_deadline(Clock::time_point deadline) {
  if (owner_) owner_->move(id_, deadline);
}

}  // namespace fedsign::net
