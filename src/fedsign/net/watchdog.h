// Hard deadlines for calls that wait on a peer: a blocking gRPC stream read or write only
// returns when the peer acts or the call is cancelled, so a client that sends half an update
// and sleeps (or opens a stream and never sends its header) would hold a server thread, and an
// upload slot, forever. The service arms a Ticket per call with a deadline and a cancel action
// (ServerContext::TryCancel); one thread fires the action when the deadline passes, which makes
// the blocked Read/Write return false. Thread-safe; the cancel action runs under the watchdog's
// mutex, so once a Ticket is destroyed its action never runs (the ServerContext it captured may
// be gone).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

namespace fedsign::net {

class Watchdog {
 public:
  using Clock = std::chrono::steady_clock;

  Watchdog();
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // An armed deadline; disarmed when destroyed. Move-only.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept { *this = std::move(other); }
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket();
    // Moves the deadline (earlier or later); no effect once fired.
    void set_deadline(Clock::time_point deadline);
    // The deadline passed and the cancel action ran.
    bool fired() const { return fired_ && fired_->load(); }

   private:
    friend class Watchdog;
    Watchdog* owner_ = nullptr;
    uint64_t id_ = 0;
    std::shared_ptr<std::atomic<bool>> fired_;
  };

  Ticket arm(Clock::time_point deadline, std::function<void()> cancel);
  int64_t fired_total() const { return fired_total_.load(); }

 private:
  struct Entry {
    Clock::time_point deadline;
    std::function<void()> cancel;
    std::shared_ptr<std::atomic<bool>> fired;
  };
  void run();
  void disarm(uint64_t id);
  void move(uint64_t id, Clock::time_point deadline);

  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<uint64_t, Entry> entries_;
  uint64_t next_id_ = 1;
  bool stop_ = false;
  std::atomic<int64_t> fired_total_{0};
  std::thread thread_;  // last: starts after the members it uses
};

}  // namespace fedsign::net
