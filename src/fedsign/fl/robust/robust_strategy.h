// RobustStrategy: a Strategy wrapper that replaces the weighted mean of the client models by a
// robust rule (robust_rules.h), then lets the inner strategy (FedAvg, FedAvgM, FedAdam, ...)
// apply the result with its own server optimizer. Everything else (client sampling, configs,
// evaluation, checkpointed state) is the inner strategy's; the cosine filter's memory adds to the
// checkpointed state.
//
// How a round aggregates: each result's update delta_i = w_i - global (floating tensors,
// flat_update.h) is BUFFERED, because median, trimmed mean, Krum, FLTrust and the cosine filter
// need all updates at once; the streaming, O(model) path of the inner strategy is lost. Server
// memory is therefore n x model (float32) per round: add() throws fedsign::Error beyond
// max_buffered_updates, and the round's metrics report robust_buffer_bytes. At finish() the rule
// combines the updates into ONE model, global + robust delta (integer tensors: the example-weighted
// mean), and the inner aggregation receives it once per buffered update, the round's examples
// shared out among them: its weighted mean is exactly that model, its count-based checks
// (min_results, num_results) see the real number of updates, and the metrics are the clients'
// example-weighted means. Clients with num_examples <= 0 are skipped (as FedAvg does). A round with
// fewer updates than the rule needs (Krum: f + 3, e.g. after dropouts) keeps the global model and
// reports robust_too_few = 1; check_robust_round() (wrap_robust.h) rejects a configuration where
// every round would. SCAFFOLD is not supported (the synthetic result has no control variate).
// Not thread-safe.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fedsign/fl/robust/delegating_strategy.h"
#include "fedsign/fl/robust/robust_rules.h"

namespace fedsign::fl::robust {

enum class BufferedRule { kMedian, kTrimmedMean, kMultiKrum, kFlTrust, kCosineFilter };
std::string to_string(BufferedRule rule);

// FLTrust: the server's model after training from `global` on its small clean root set, with the
// instructions the clients of `round` got (`fit_config`: learning rate, local epochs or steps).
// Called once per round at finish().
using ServerUpdateFn =
    std::function<Weights(int64_t round, const Weights& global, const Config& fit_config)>;

// A model's labels for the server's root set (the FLTrust images), beside their true labels, for
// the cosine filter's label test.
struct RootLabels {
  std::vector<int> truth;
  std::vector<int> predicted;
};
using RootLabelsFn = std::function<RootLabels(const Weights& model)>;

// The server's root set as the rules use it: FLTrust's training on it and the label test's
// labels of it (run/root_update.h make_server_root); each is empty when no rule asks for it.
struct ServerRoot {
  ServerUpdateFn update;
  RootLabelsFn labels;
};

struct BufferedRuleOptions {
  BufferedRule rule = BufferedRule::kMedian;
  double trim_beta = 0.1;             // trimmed mean: fraction cut from each end
  int64_t krum_f = 1;                 // Krum: assumed Byzantine clients per round
  int64_t krum_m = 1;                 // Multi-Krum: updates averaged (1 = Krum, <= 0: n - f)
  CosineFilterOptions cosine_filter;  // cosine filter: its threshold and copy test
  bool cosine_memory = false;         // cosine filter: a client once dropped is not kept again
  int64_t cosine_strikes = 1;         // memory: rounds a client is dropped in before it is kept
                                      // out (1: the first; more forgives honest one-offs)
  double cosine_drop_share = 0.0;     // memory, in [0, 1]: ... and at least this share of the
                                      // rounds it took part in (0: the strikes alone), so a
                                      // client kept for many rounds is not kept out for a few
                                      // late drops
  bool strikes_from_label_test = false;  // memory counts only the label test's drops: late in a
                                      // run the cosine test drops honest and attacking updates
                                      // alike (about 1 in 10), which memory would turn into
                                      // honest clients lost for good; it still drops per round
  bool cosine_head = false;           // cosine filter: test the output layer on its own too
  double label_test_ratio = 0.0;      // cosine filter, in (0, 1]: drop updates whose model's
                                      // label recall (label_recall) on the root set is below
                                      // this x the round's median (low_outliers)
  RootLabelsFn root_labels;           // required when label_test_ratio > 0
  int64_t max_buffered_updates = 100; // more results in one round is an error
  ServerUpdateFn server_update;       // FLTrust only (required there)
};

class RobustStrategy : public DelegatingStrategy {
 public:
  RobustStrategy(std::unique_ptr<Strategy> inner, BufferedRuleOptions options);
  RobustStrategy(Strategy& inner, BufferedRuleOptions options);

  std::string name() const override;
  // The inner strategy's sampling; the round's fit config is kept for FLTrust's server update.
  std::vector<FitInstruction> configure_fit(int64_t round, const Weights& global,
                                            const ClientManager& clients) override;
  std::unique_ptr<FitAggregation> begin_aggregate_fit(int64_t round,
                                                      const Weights& global) override;
  const BufferedRuleOptions& options() const { return options_; }
  // The inner strategy's state, and with cosine_memory "cosine.caught": the ids of the clients
  // the cosine filter keeps out, and "cosine.strikes": the others' drop and round counts (ids,
  // counts, rounds), so --resume remembers who was caught and who is on the way.
  std::map<std::string, Weights> state() const override;
  void load_state(const std::map<std::string, Weights>& state) override;

 private:
  class Aggregation;
  void validate() const;
  // Fewest updates the rule combines (Krum: its n - f - 2 >= 1 neighbours).
  int64_t min_updates() const;
  BufferedRuleOptions options_;
  Config fit_config_;  // of the last configured round
  // cosine_memory: per client, the rounds it took part in and those it was dropped in, counted
  // until it is caught (is_caught: cosine_strikes drops and cosine_drop_share of its rounds);
  // from then on it is kept out.
  struct Record {
    int64_t drops = 0;
    int64_t rounds = 0;
  };
  void record_round(int64_t client, bool dropped);
  bool is_caught(const Record& record) const;
  bool caught(int64_t client) const;
  int64_t caught_count() const;
  std::map<int64_t, Record> records_;
};

}  // namespace fedsign::fl::robust
