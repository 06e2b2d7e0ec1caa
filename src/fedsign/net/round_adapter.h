// Runs fl::Server::run_round (the simulation's round loop, unchanged) over remote clients.
//
// fl::Server calls the sampled clients one after another and folds each result into the
// strategy's aggregation. Remote clients must instead train in parallel and be folded as their
// updates arrive, so this adapter
//   * wraps the real Strategy (DispatchingStrategy): configure_fit/configure_evaluate call the
//     wrapped strategy, then immediately post a task to EVERY sampled client (all train at once)
//     and open the wrapped strategy's FitAggregation;
//   * folds each validated update into that aggregation the moment it arrives (fold(), called
//     by the gRPC service), so the server holds O(model) memory, not O(clients x model);
//   * hands fl::Server a RemoteClient proxy per client whose fit()/evaluate() only wait for the
//     outcome of the posted task (throwing on failure: a Failure for the strategy) and return a
//     placeholder FitResult that the forwarding aggregation ignores (already folded).
// Waiting one client after another costs nothing: all tasks run concurrently, so the round takes
// as long as its slowest client (or its deadline).
// With secure aggregation on (enable_secagg; the inner strategy must be DP-FedAvg in distributed
// mode, whose clients clip and noise), each fit round also opens a SecAggRound: the clients'
// masked updates go there instead of into the aggregation, and finish() hands the unmasked SUM
// to DpFedAvg::aggregate_sum. The server never holds one client's update.
// Thread-safety: fold() may be called from any thread; the rest from the round-loop thread.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>

#include "fedsign/fl/compress/upload.h"
#include "fedsign/fl/client/client.h"
#include "fedsign/fl/run/server.h"
#include "fedsign/fl/strategy/strategy.h"
#include "fedsign/fl/privacy/fixed_point.h"
#include "fedsign/fl/strategy/aggregate.h"
#include "fedsign/net/coordinator.h"
#include "fedsign/net/secagg_round.h"

namespace fedsign::net {

struct SecAggSettings {
  // Shamir threshold t = floor(threshold * m) + 1 (at least 2, at most m) of the m clients
  // sampled: the sum is recovered while t of them remain, and t - 1 colluders learn nothing.
  double threshold = 0.5;
  std::chrono::milliseconds step_timeout{60000};  // per key / unmasking step
};

class DispatchingStrategy : public fl::Strategy {
 public:
  DispatchingStrategy(fl::Strategy& inner, Coordinator& coordinator,
                      std::chrono::milliseconds round_deadline);

  std::string name() const override { return inner_.name(); }
  std::optional<fl::Weights> initialize_parameters() override {
    return inner_.initialize_parameters();
  }
  std::vector<fl::FitInstruction> configure_fit(int64_t round, const fl::Weights& global,
                                                const fl::ClientManager& clients) override;
  std::unique_ptr<fl::FitAggregation> begin_aggregate_fit(int64_t round,
                                                          const fl::Weights& global) override;
  std::vector<fl::EvaluateInstruction> configure_evaluate(
      int64_t round, const fl::Weights& global, const fl::ClientManager& clients) override;
  std::optional<fl::EvaluateSummary> aggregate_evaluate(
      int64_t round, const std::vector<fl::EvaluateResult>& results,
      const std::vector<fl::Failure>& failures) override {
    return inner_.aggregate_evaluate(round, results, failures);
  }
  std::optional<fl::EvaluateSummary> evaluate(int64_t round, const fl::Weights& global) override {
    return inner_.evaluate(round, global);
  }
  fl::Weights released_model(const fl::Weights& global) const override {
    return inner_.released_model(global);
  }
  std::map<std::string, fl::Weights> state() const override { return inner_.state(); }
  void load_state(const std::map<std::string, fl::Weights>& state) override {
    inner_.load_state(state);
  }

  // Folds a validated FIT update of `task` into the open aggregation (any thread). Folds
  // nothing and returns an error when no aggregation of the task's round is open (a late update
  // never lands in a later round), when the task already failed (Coordinator::commit), or when
  // the aggregation refuses it.
  Status fold(const std::shared_ptr<Task>& task, fl::FitResult result);

  // Secure aggregation from the next fit round on. Throws unless the inner strategy is
  // DP-FedAvg in distributed mode.
  void enable_secagg(const SecAggSettings& settings);
  bool secagg() const { return secagg_settings_.has_value(); }

  // Asks every FIT client for compressed uploads (upload_codec.h: int8 or topk). Throws
  // together with secure aggregation (masked words cannot be compressed after masking).
  void set_upload_codec(const fl::compress::CompressOptions& options);
  // Sends the model of FIT and EVALUATE tasks as bfloat16 (half the bytes; clients train and
  // evaluate from it in float32). Updates are still checked against the float32 global.
  void set_bf16_downloads(bool on) { bf16_downloads_ = on; }
  // Per client, the last round whose update is in the model: set when a round's aggregate
  // becomes the model (not when it keeps the old one), sent with every FIT task, kept in the
  // server's checkpoint so that a restarted server tells its clients which updates it lost.
  // Round-loop thread only.
  std::map<fl::ClientId, int64_t> taken_rounds() const { return taken_rounds_; }
  // From a checkpoint; nullopt (a checkpoint without them): FIT tasks then leave it unsaid.
  void restore_taken_rounds(std::optional<std::map<fl::ClientId, int64_t>> rounds);
  // The open secure-aggregation round `round` (null if none).
  std::shared_ptr<SecAggRound> secagg_round(int64_t round) const;
  // Hands the masked update of `task` (its client's words) to the round's SecAggRound; like
  // fold(), only while the task's round is aggregating and the task has not failed.
  Status fold_masked(const std::shared_ptr<Task>& task, std::vector<uint32_t> words,
                     const fl::Metrics& metrics);

  // The open task of `client` in the current round (null if none).
  std::shared_ptr<Task> task_for(fl::ClientId client, TaskKind kind);
  Coordinator& coordinator() { return coordinator_; }

  // Fewer folded updates than this: finish() keeps the global model (default 1).
  void set_min_results(int64_t n) { min_results_ = n; }

  // Slowest client's reported local training time in the last fit phase.
  double max_train_seconds() const;

  // A factory for fl::Server.
  fl::ClientFactory client_factory();

 private:
  class Forwarding;
  // Whether `task`'s update may be folded now (its round aggregating, plain or masked as the
  // round is, the task still open: then committed); notes its training time. Under mutex_.
  Status admit_locked(const std::shared_ptr<Task>& task, bool masked, const fl::Metrics& metrics);
  fl::Weights download_form(const fl::Weights& weights) const;  // as the task blob carries it
  // The round's folded clients now have their updates in the model. Under mutex_.
  void note_taken_locked(int64_t round);
  std::shared_ptr<Task> make_task(TaskKind kind, fl::ClientId client, int64_t round,
                                  int64_t version, const fl::Config& config,
                                  std::shared_ptr<const Blob> blob);

  fl::Strategy& inner_;
  Coordinator& coordinator_;
  std::chrono::milliseconds round_deadline_;
  std::map<fl::ClientId, std::shared_ptr<Task>> fit_tasks_, evaluate_tasks_;
  fl::Weights global_;  // the round's starting model (shared tensor handles)
  std::shared_ptr<const fl::Weights> layout_;
  double layout_norm_ = -1;  // fl::l2_norm(*layout_) when known: every upload's norm bound
  std::shared_ptr<const std::optional<fl::Weights>> control_layout_;
  mutable std::mutex mutex_;  // guards aggregation_ and max_train_seconds_
  std::unique_ptr<fl::FitAggregation> aggregation_;
  int64_t aggregating_round_ = -1;
  double max_train_seconds_ = 0;
  int64_t folded_ = 0;
  int64_t min_results_ = 1;
  int64_t task_counter_ = 0;
  std::vector<fl::ClientId> folded_clients_;      // this round's, guarded by mutex_
  std::map<fl::ClientId, int64_t> taken_rounds_;  // taken_rounds()
  bool taken_rounds_known_ = true;
  // Secure aggregation (guarded by mutex_ once a round is open).
  std::optional<SecAggSettings> secagg_settings_;
  fl::compress::CompressOptions upload_codec_;
  bool bf16_downloads_ = false;
  std::shared_ptr<SecAggRound> secagg_;
  std::optional<fl::privacy::FixedPointCodec> secagg_codec_;
  fl::MetricsMean secagg_metrics_;
};

// Proxy of one remote client for fl::Server.
class RemoteClient : public fl::Client {
 public:
  RemoteClient(DispatchingStrategy& strategy, fl::ClientId id) : strategy_(strategy), id_(id) {}
  fl::FitResult fit(const fl::FitIns& ins) override;
  fl::EvaluateResult evaluate(const fl::EvaluateIns& ins) override;

 private:
  DispatchingStrategy& strategy_;
  fl::ClientId id_;
};

}  // namespace fedsign::net
