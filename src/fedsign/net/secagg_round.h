// One round of secure aggregation on the server (fl/privacy/secagg.h carries the protocol; this
// class gives it clocks and answers the clients' SecAgg calls). The clients sampled for the
// round's FIT tasks run the steps; each step closes when every client still in it has done it,
// or when its time is up (`step_timeout`), and a client that missed a step is out of the round:
//   advertise keys -> get keys -> share keys -> get shares -> (train) -> masked update
//   (SubmitResult) -> get survivors -> unmask.
// The masked-input step closes when every client that shared keys has sent its masked update,
// or when the round loop calls finish() (all FIT tasks ended: submitted, failed or timed out).
// finish() then waits up to `step_timeout` for the survivors' unmasking answers and returns
// the sum of the survivors' inputs, and nothing else about any one of them. Fewer than
// `threshold` clients at any step: the round fails (every waiting client is told why) and
// finish() throws. Thread-safe: one mutex, one condition variable.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "fedsign/fl/privacy/secagg.h"
#include "fedsign/net/status.h"

namespace fedsign::net {

class SecAggRound {
 public:
  using Clock = std::chrono::steady_clock;
  using ClientId = fl::privacy::ClientId;

  SecAggRound(int64_t round, std::set<ClientId> sampled, int64_t threshold, int64_t input_length,
              std::chrono::milliseconds step_timeout);

  int64_t round() const { return round_; }
  int64_t threshold() const { return threshold_; }
  int64_t input_length() const { return input_length_; }
  bool sampled(ClientId client) const { return sampled_.count(client) == 1; }

  // Client calls. The long polls (keys, shares_for, survivors) wait until their step closed or
  // `until`; *ready says which.
  Status advertise(ClientId client, const fl::privacy::AdvertisedKeys& keys);
  Status keys(ClientId client, Clock::time_point until,
              std::vector<fl::privacy::AdvertisedKeys>* out, bool* ready);
  Status share(ClientId client, fl::privacy::SharedKeys shares);
  Status shares_for(ClientId client, Clock::time_point until,
                    std::vector<fl::privacy::EncryptedShares>* out, bool* ready);
  Status masked(ClientId client, std::vector<uint32_t> words);
  Status survivors(ClientId client, Clock::time_point until, std::vector<ClientId>* out,
                   bool* ready);
  Status unmask(ClientId client, const fl::privacy::UnmaskingShares& shares);

  // The round loop, once every FIT task ended. Throws fedsign::Error when the protocol failed.
  std::vector<uint32_t> finish();
  int64_t survivor_count() const;

 private:
  enum class Step { kAdvertise, kShare, kMask, kUnmask, kDone, kFailed };
  // Closes the steps whose condition holds at `now` (under mutex_).
  void advance_locked(Clock::time_point now);
  void fail_locked(const std::string& reason);
  void close_mask_locked(Clock::time_point now);
  // Waits for `step` to be passed or for `until`; the failure status if the round failed.
  Status wait_past_locked(std::unique_lock<std::mutex>& lock, Step step, Clock::time_point until,
                          bool* ready);
  Status expect_locked(Step step, ClientId client, const std::set<ClientId>& members,
                       const char* what) const;
  // A client's message for `step`: it must be in `members`, about itself (`own`) and not yet in
  // `done`; `deliver` hands it to the protocol object.
  template <typename Deliver>
  Status submit(Step step, ClientId client, bool own, const std::set<ClientId>& members,
                std::set<ClientId>& done, const char* what, Deliver&& deliver);
  // A long poll past `step`, for a client that must be in `members` once it closed.
  Status await_locked(std::unique_lock<std::mutex>& lock, Step step, ClientId client,
                      Clock::time_point until, const std::set<ClientId>& members,
                      const char* missing, bool* ready);

  const int64_t round_, threshold_, input_length_;
  const std::set<ClientId> sampled_;
  const std::chrono::milliseconds step_timeout_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  fl::privacy::SecAggServer server_;
  Step step_ = Step::kAdvertise;
  Clock::time_point step_deadline_;
  std::string failure_;
  std::set<ClientId> advertised_, roster_, shared_, sharers_, masked_, survivors_, answered_;
};

}  // namespace fedsign::net
