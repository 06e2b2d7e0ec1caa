#include "fedsign/net/secagg_round.h"

#include <spdlog/spdlog.h>

#include "fedsign/core/check.h"

namespace fedsign::net {

namespace privacy = fl::privacy;

SecAggRound::SecAggRound(int64_t round, std::set<ClientId> sampled, int64_t threshold,
                         int64_t input_length, std::chrono::milliseconds step_timeout)
    : round_(round),
      threshold_(threshold),
      input_length_(input_length),
      sampled_(std::move(sampled)),
      step_timeout_(step_timeout),
      server_(threshold, input_length),
      step_deadline_(Clock::now() + step_timeout) {
  FEDSIGN_CHECK(threshold_ >= 1 && threshold_ <= static_cast<int64_t>(sampled_.size()),
                "secure aggregation: threshold {} for {} clients", threshold_, sampled_.size());
}

void SecAggRound::fail_locked(const std::string& reason) {
  if (step_ == Step::kFailed) return;
  step_ = Step::kFailed;
  failure_ = reason;
  spdlog::warn("secure aggregation, round {}: {}", round_, reason);
  cv_.notify_all();
}

void SecAggRound::close_mask_locked(Clock::time_point now) {
  survivors_ = masked_;
  if (static_cast<int64_t>(survivors_.size()) < threshold_) {
    fail_locked(fmt::format("{} masked updates arrived, threshold is {}: the sum cannot be "
                            "recovered", survivors_.size(), threshold_));
    return;
  }
  server_.survivors();  // fixes the survivor set in the protocol object too
  step_ = Step::kUnmask;
  step_deadline_ = now + step_timeout_;
  cv_.notify_all();
}

void SecAggRound::advance_locked(Clock::time_point now) {
  const auto below = [this](const std::set<ClientId>& s) {
    return static_cast<int64_t>(s.size()) < threshold_;
  };
  if (step_ == Step::kAdvertise && (advertised_.size() == sampled_.size() || now >= step_deadline_)) {
    roster_ = advertised_;
    if (below(roster_)) {
      fail_locked(fmt::format("{} of {} sampled clients advertised keys, threshold is {}",
                              roster_.size(), sampled_.size(), threshold_));
      return;
    }
    step_ = Step::kShare;
    step_deadline_ = now + step_timeout_;
    cv_.notify_all();
  }
  if (step_ == Step::kShare && (shared_.size() == roster_.size() || now >= step_deadline_)) {
    sharers_ = shared_;
    if (below(sharers_)) {
      fail_locked(fmt::format("{} of {} clients shared their keys, threshold is {}",
                              sharers_.size(), roster_.size(), threshold_));
      return;
    }
    step_ = Step::kMask;
    cv_.notify_all();
  }
  if (step_ == Step::kMask && masked_.size() == sharers_.size()) close_mask_locked(now);
  if (step_ == Step::kUnmask && (answered_.size() == survivors_.size() || now >= step_deadline_)) {
    if (below(answered_)) {
      fail_locked(fmt::format("{} of {} survivors answered the unmasking step, threshold is {}",
                              answered_.size(), survivors_.size(), threshold_));
      return;
    }
    step_ = Step::kDone;
    cv_.notify_all();
  }
}

Status SecAggRound::expect_locked(Step step, ClientId client, const std::set<ClientId>& members,
                                  const char* what) const {
  if (step_ == Step::kFailed) {
    return {Code::kFailedPrecondition,
            fmt::format("secure aggregation round {} failed: {}", round_, failure_)};
  }
  if (step_ != step) {
    return {Code::kFailedPrecondition,
            fmt::format("secure aggregation round {}: the step for {} is closed", round_, what)};
  }
  if (members.count(client) == 0) {
    return {Code::kFailedPrecondition,
            fmt::format("secure aggregation round {}: client {} is not in the step for {}", round_,
                        client, what)};
  }
  return Status::Ok();
}

Status SecAggRound::wait_past_locked(std::unique_lock<std::mutex>& lock, Step step,
                                     Clock::time_point until, bool* ready) {
  *ready = false;
  while (true) {
    const auto now = Clock::now();
    advance_locked(now);
    if (step_ == Step::kFailed) {
      return {Code::kFailedPrecondition,
              fmt::format("secure aggregation round {} failed: {}", round_, failure_)};
    }
    if (step_ > step) {
      *ready = true;
      return Status::Ok();
    }
    if (now >= until) return Status::Ok();
    const bool timed = step_ == Step::kAdvertise || step_ == Step::kShare || step_ == Step::kUnmask;
    cv_.wait_until(lock, timed ? std::min(until, step_deadline_) : until);
  }
}

namespace {
template <typename F>
Status protocol_call(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {  // the protocol object refused the message
    return {Code::kInvalidArgument, e.what()};
  }
  return Status::Ok();
}
}  // namespace

template <typename Deliver>
Status SecAggRound::submit(Step step, ClientId client, bool own, const std::set<ClientId>& members,
                           std::set<ClientId>& done, const char* what, Deliver&& deliver) {
  std::lock_guard lock(mutex_);
  advance_locked(Clock::now());
  if (Status s = expect_locked(step, client, members, what); !s.ok()) return s;
  if (!own || done.count(client)) {
    return {Code::kInvalidArgument, fmt::format("{} sent twice or for another client", what)};
  }
  Status s = protocol_call(deliver);
  if (s.ok()) done.insert(client);
  advance_locked(Clock::now());
  return s;
}

Status SecAggRound::await_locked(std::unique_lock<std::mutex>& lock, Step step, ClientId client,
                                 Clock::time_point until, const std::set<ClientId>& members,
                                 const char* missing, bool* ready) {
  if (Status s = wait_past_locked(lock, step, until, ready); !s.ok() || !*ready) return s;
  if (members.count(client) == 0) {
    return {Code::kFailedPrecondition, fmt::format("secure aggregation round {}: client {} {}",
                                                   round_, client, missing)};
  }
  return Status::Ok();
}

Status SecAggRound::advertise(ClientId client, const privacy::AdvertisedKeys& keys) {
  return submit(Step::kAdvertise, client, keys.id == client, sampled_, advertised_, "keys",
                [&] { server_.receive_keys(keys); });
}

Status SecAggRound::keys(ClientId client, Clock::time_point until,
                         std::vector<privacy::AdvertisedKeys>* out, bool* ready) {
  std::unique_lock lock(mutex_);
  Status s = await_locked(lock, Step::kAdvertise, client, until, roster_,
                          "advertised no keys in time", ready);
  if (s.ok() && *ready) *out = server_.keys();
  return s;
}

Status SecAggRound::share(ClientId client, privacy::SharedKeys shares) {
  return submit(Step::kShare, client, shares.id == client, roster_, shared_, "key shares",
                [&] { server_.receive_shares(std::move(shares)); });
}

Status SecAggRound::shares_for(ClientId client, Clock::time_point until,
                               std::vector<privacy::EncryptedShares>* out, bool* ready) {
  std::unique_lock lock(mutex_);
  Status s = await_locked(lock, Step::kShare, client, until, sharers_,
                          "shared no keys in time", ready);
  if (s.ok() && *ready) *out = server_.shares_for(client);
  return s;
}

Status SecAggRound::masked(ClientId client, std::vector<uint32_t> words) {
  return submit(Step::kMask, client, true, sharers_, masked_, "masked update",
                [&] { server_.receive_masked({client, std::move(words)}); });
}

Status SecAggRound::survivors(ClientId client, Clock::time_point until, std::vector<ClientId>* out,
                              bool* ready) {
  std::unique_lock lock(mutex_);
  Status s = await_locked(lock, Step::kMask, client, until, survivors_,
                          "is not a survivor (its masked update did not arrive)", ready);
  if (s.ok() && *ready) out->assign(survivors_.begin(), survivors_.end());
  return s;
}

Status SecAggRound::unmask(ClientId client, const privacy::UnmaskingShares& shares) {
  return submit(Step::kUnmask, client, shares.id == client, survivors_, answered_,
                "unmasking answer", [&] { server_.receive_unmasking(shares); });
}

std::vector<uint32_t> SecAggRound::finish() {
  std::unique_lock lock(mutex_);
  advance_locked(Clock::now());
  if (step_ == Step::kAdvertise || step_ == Step::kShare) {
    fail_locked("every FIT task ended before the keys were shared");
  }
  if (step_ == Step::kMask) close_mask_locked(Clock::now());
  while (step_ == Step::kUnmask) {
    cv_.wait_until(lock, step_deadline_);
    advance_locked(Clock::now());
  }
  FEDSIGN_CHECK(step_ == Step::kDone, "secure aggregation round {} failed: {}", round_, failure_);
  return server_.finish();
}

int64_t SecAggRound::survivor_count() const {
  std::lock_guard lock(mutex_);
  return static_cast<int64_t>(survivors_.size());
}

}  // namespace fedsign::net
