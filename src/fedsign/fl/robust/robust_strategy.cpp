#include "fedsign/fl/robust/robust_strategy.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "fedsign/fl/strategy/aggregate.h"
#include "fedsign/fl/robust/flat_update.h"
#include "fedsign/fl/robust/robust_rules.h"

namespace fedsign::fl::robust {

std::string to_string(BufferedRule rule) {
  switch (rule) {
    case BufferedRule::kMedian: return "median";
    case BufferedRule::kTrimmedMean: return "trimmed-mean";
    case BufferedRule::kMultiKrum: return "multi-krum";
    case BufferedRule::kFlTrust: return "fltrust";
    case BufferedRule::kCosineFilter: return "cosine-filter";
  }
  return "robust";
}

class RobustStrategy::Aggregation : public FitAggregation {
 public:
  Aggregation(RobustStrategy& strategy, int64_t round, Weights global)
      : strategy_(strategy), options_(strategy.options_), round_(round),
        global_(std::move(global)), inner_(strategy.inner().begin_aggregate_fit(round, global_)) {
    const std::vector<bool> floating = floating_mask(global_);
    for (bool f : floating) integer_mask_.push_back(!f);
    has_integers_ = std::find(integer_mask_.begin(), integer_mask_.end(), true) != integer_mask_.end();
  }

  void add(FitResult result) override {
    if (result.num_examples <= 0) return;  // no training data: contributes nothing, as in FedAvg
    FEDSIGN_CHECK(static_cast<int64_t>(updates_.size()) < options_.max_buffered_updates,
                  "{} (round {}): more than {} client updates to buffer (max_buffered_updates)",
                  strategy_.name(), round_, options_.max_buffered_updates);
    torch::Tensor delta = flat_delta(global_, result.weights);
    bytes_ += delta.numel() * static_cast<int64_t>(delta.element_size());
    updates_.push_back(std::move(delta));
    client_ids_.push_back(result.client_id);
    const auto n = static_cast<double>(result.num_examples);
    weights_.push_back(n);
    total_examples_ += result.num_examples;
    if (has_integers_) integers_.add(select(result.weights, integer_mask_), n);
    metrics_.add(result.metrics, n);
  }

  AggregateFitResult finish(const std::vector<Failure>& failures) override {
    const auto count = static_cast<double>(updates_.size());
    Metrics robust_metrics = {{"robust_buffered_updates", count},
                              {"robust_buffer_bytes", static_cast<double>(bytes_)}};
    const bool too_few = !updates_.empty() &&
                         static_cast<int64_t>(updates_.size()) < strategy_.min_updates();
    if (too_few) {
      // E.g. dropouts left fewer updates than Krum needs: keep the model rather than stop.
      spdlog::warn("{} (round {}): {} updates are too few for the rule, the round keeps the "
                   "global model", strategy_.name(), round_, updates_.size());
      robust_metrics["robust_too_few"] = 1;
      updates_.clear();
    } else if (!updates_.empty()) {
      const auto n = static_cast<int64_t>(updates_.size());
      const Weights combined = apply_flat_delta(global_, combine(robust_metrics),
                                                has_integers_ ? integers_.mean() : Weights{});
      const Metrics client_metrics = metrics_.mean();
      updates_.clear();  // release the buffer before the inner strategy works
      // The combination goes in once per update, the examples shared out: the inner mean is the
      // combination itself, and count-based checks (min_results) see the real number of updates.
      for (int64_t i = 0; i < n; ++i) {
        FitResult synthetic;
        synthetic.client_id = -1;
        synthetic.num_examples = total_examples_ / n + (i < total_examples_ % n ? 1 : 0);
        synthetic.metrics = client_metrics;
        synthetic.weights = combined;  // shared tensors, no copy
        inner_->add(std::move(synthetic));
      }
    }
    AggregateFitResult out = inner_->finish(failures);
    out.metrics["num_results"] = count;
    for (const auto& [key, value] : robust_metrics) out.metrics[key] = value;
    return out;
  }

 private:
  torch::Tensor combine(Metrics& metrics) {
    switch (options_.rule) {
      case BufferedRule::kMedian: return coordinate_median(updates_);
      case BufferedRule::kTrimmedMean: return trimmed_mean(updates_, options_.trim_beta);
      case BufferedRule::kMultiKrum: {
        KrumResult r = multi_krum(updates_, weights_, options_.krum_f, options_.krum_m);
        metrics["robust_selected"] = static_cast<double>(r.selected.size());
        return r.update;
      }
      case BufferedRule::kFlTrust: {
        const Weights server = options_.server_update(round_, global_, strategy_.fit_config_);
        FlTrustResult r = fltrust(updates_, flat_delta(global_, server));
        double trusted = 0, sum = 0;
        for (double t : r.trust) {
          trusted += t > 0 ? 1 : 0;
          sum += t;
        }
        metrics["robust_trusted"] = trusted;
        metrics["robust_mean_trust"] = sum / static_cast<double>(r.trust.size());
        return r.update;
      }
      case BufferedRule::kCosineFilter: {
        const std::size_t n = updates_.size();
        // Kept out before the filter looks: caught in an earlier round, or failing the label test.
        std::vector<bool> excluded(n, false);
        if (options_.cosine_memory) {
          for (std::size_t i = 0; i < n; ++i) excluded[i] = strategy_.caught(client_ids_[i]);
        }
        std::vector<double> recalls;
        std::vector<int64_t> recall_images;
        std::vector<bool> label_dropped(n, false);
        if (options_.label_test_ratio > 0) {
          for (const auto& u : updates_) {
            const RootLabels labels = options_.root_labels(apply_flat_delta(global_, u));
            const LabelRecall recall = label_recall(labels.truth, labels.predicted);
            recalls.push_back(recall.recall);
            recall_images.push_back(recall.images);
          }
          label_dropped = low_outliers(recalls, options_.label_test_ratio);
          metrics["robust_label_recall"] = median_of(recalls);
          metrics["robust_label_dropped"] =
              static_cast<double>(std::count(label_dropped.begin(), label_dropped.end(), true));
          for (std::size_t i = 0; i < n; ++i) excluded[i] = excluded[i] || label_dropped[i];
        }
        CosineFilterOptions filter = options_.cosine_filter;
        if (options_.cosine_head) {
          const FlatRange head = output_layer_range(global_);
          filter.head_offset = head.offset;
          filter.head_length = head.length;
        }
        CosineFilterResult r = cosine_filter(updates_, weights_, filter, excluded);
        const auto count = static_cast<double>(r.cosine.size());
        double mean = 0, head_mean = 0;
        for (std::size_t i = 0; i < r.cosine.size(); ++i) {
          mean += r.cosine[i] / count;
          const double head = r.head_cosine.empty() ? 0.0 : r.head_cosine[i];
          head_mean += head / count;
          const bool dropped = r.dropped[i] || label_dropped[i];
          // One line per client and round, the scores of the tests that ran (what
          // scripts/cosine_filter_scores.py reads).
          spdlog::debug("cosine filter (round {}): client {} cosine {:.4f}{}{}{}", round_,
                        client_ids_[i], r.cosine[i],
                        r.head_cosine.empty() ? "" : fmt::format(" output layer {:.4f}", head),
                        recalls.empty() ? ""
                                        : fmt::format(" label recall {:.4f} of {}", recalls[i],
                                                      recall_images[i]),
                        dropped ? " dropped" : "");
          if (options_.cosine_memory) {
            strategy_.record_round(client_ids_[i],
                                   options_.strikes_from_label_test ? label_dropped[i] : dropped);
          }
        }
        metrics["robust_selected"] = static_cast<double>(r.kept.size());
        metrics["robust_mean_cosine"] = mean;
        metrics["robust_duplicates"] = static_cast<double>(r.duplicates);
        if (options_.cosine_head) {
          metrics["robust_mean_head_cosine"] = head_mean;
          metrics["robust_head_dropped"] = static_cast<double>(r.head_dropped);
        }
        if (options_.cosine_memory) {
          metrics["robust_caught_clients"] = static_cast<double>(strategy_.caught_count());
        }
        return r.update;
      }
    }
    FEDSIGN_FAIL("robust aggregation: unknown rule");
  }

  RobustStrategy& strategy_;
  const BufferedRuleOptions& options_;
  int64_t round_;
  Weights global_;
  std::unique_ptr<FitAggregation> inner_;
  std::vector<bool> integer_mask_;
  bool has_integers_ = false;
  Updates updates_;
  std::vector<int64_t> client_ids_;
  std::vector<double> weights_;
  int64_t total_examples_ = 0;
  int64_t bytes_ = 0;
  WeightedSum integers_;
  MetricsMean metrics_;
};

RobustStrategy::RobustStrategy(std::unique_ptr<Strategy> inner, BufferedRuleOptions options)
    : DelegatingStrategy(std::move(inner)), options_(std::move(options)) {
  validate();
}

RobustStrategy::RobustStrategy(Strategy& inner, BufferedRuleOptions options)
    : DelegatingStrategy(inner), options_(std::move(options)) {
  validate();
}

void RobustStrategy::validate() const {
  FEDSIGN_CHECK(inner().name() != "scaffold",
                "robust aggregation ({}) does not combine with scaffold", to_string(options_.rule));
  FEDSIGN_CHECK(options_.cosine_strikes >= 1, "cosine filter: cosine_strikes {} < 1",
                options_.cosine_strikes);
  FEDSIGN_CHECK(options_.cosine_drop_share >= 0 && options_.cosine_drop_share <= 1,
                "cosine filter: cosine_drop_share {} is not in [0, 1]", options_.cosine_drop_share);
  FEDSIGN_CHECK(options_.max_buffered_updates >= 1, "robust aggregation: max_buffered_updates {} < 1",
                options_.max_buffered_updates);
  if (options_.rule == BufferedRule::kTrimmedMean) trimmed_count(3, options_.trim_beta);  // range
  if (options_.rule == BufferedRule::kMultiKrum) {
    FEDSIGN_CHECK(options_.krum_f >= 0, "Krum: f = {} < 0", options_.krum_f);
  }
  FEDSIGN_CHECK(!options_.strikes_from_label_test || options_.label_test_ratio > 0,
                "cosine filter: strikes from the label test need the label test (label_test_ratio)");
  if (options_.label_test_ratio > 0) {
    FEDSIGN_CHECK(options_.rule == BufferedRule::kCosineFilter,
                  "the label test is part of the cosine filter, not of {}",
                  to_string(options_.rule));
    FEDSIGN_CHECK(static_cast<bool>(options_.root_labels),
                  "the label test needs the server's root set (root_labels)");
    low_outliers({}, options_.label_test_ratio);  // names a bad ratio
  }
  if (options_.rule == BufferedRule::kFlTrust) {
    FEDSIGN_CHECK(static_cast<bool>(options_.server_update),
                  "FLTrust needs the server's root-set update (server_update)");
  }
}

int64_t RobustStrategy::min_updates() const {
  return options_.rule == BufferedRule::kMultiKrum
             ? std::max<int64_t>(options_.krum_f + 3, std::max<int64_t>(options_.krum_m, 1))
             : 1;
}

void RobustStrategy::record_round(int64_t client, bool dropped) {
  Record& record = records_[client];
  if (is_caught(record)) return;  // counting stops once it is kept out: it stays out
  ++record.rounds;
  if (dropped) ++record.drops;
}

bool RobustStrategy::is_caught(const Record& record) const {
  return record.drops >= options_.cosine_strikes &&
         static_cast<double>(record.drops) >=
             options_.cosine_drop_share * static_cast<double>(record.rounds);
}

bool RobustStrategy::caught(int64_t client) const {
  const auto it = records_.find(client);
  return it != records_.end() && is_caught(it->second);
}

int64_t RobustStrategy::caught_count() const {
  return std::count_if(records_.begin(), records_.end(),
                       [&](const auto& r) { return is_caught(r.second); });
}

namespace {
constexpr const char* kCaughtStateKey = "cosine.caught";
constexpr const char* kStrikesStateKey = "cosine.strikes";

std::vector<int64_t> int64_list(const Weights& w, std::size_t i, const char* key) {
  FEDSIGN_CHECK(i < w.size() && w.tensors[i].dim() == 1 &&
                    w.tensors[i].scalar_type() == torch::kInt64,
                "robust state '{}': expected int64 lists", key);
  const torch::Tensor t = w.tensors[i].contiguous();
  return {t.data_ptr<int64_t>(), t.data_ptr<int64_t>() + t.numel()};
}
}  // namespace

std::map<std::string, Weights> RobustStrategy::state() const {
  std::map<std::string, Weights> out = inner().state();
  if (!options_.cosine_memory) return out;
  // Clients kept out under "cosine.caught" (the key older checkpoints have), the others with
  // their drop and round counts under "cosine.strikes".
  std::vector<int64_t> caught_ids, ids, counts, rounds;
  for (const auto& [id, record] : records_) {
    if (is_caught(record)) {
      caught_ids.push_back(id);
    } else {
      ids.push_back(id);
      counts.push_back(record.drops);
      rounds.push_back(record.rounds);
    }
  }
  if (!caught_ids.empty()) {
    Weights w;
    w.names = {"client_ids"};
    w.tensors = {torch::tensor(caught_ids, torch::kInt64)};
    out[kCaughtStateKey] = std::move(w);
  }
  if (!ids.empty()) {
    Weights w;
    w.names = {"client_ids", "counts", "rounds"};
    w.tensors = {torch::tensor(ids, torch::kInt64), torch::tensor(counts, torch::kInt64),
                 torch::tensor(rounds, torch::kInt64)};
    out[kStrikesStateKey] = std::move(w);
  }
  return out;
}

void RobustStrategy::load_state(const std::map<std::string, Weights>& state) {
  std::map<std::string, Weights> rest = state;
  records_.clear();
  if (auto it = rest.find(kCaughtStateKey); it != rest.end()) {
    FEDSIGN_CHECK(it->second.size() == 1, "robust state '{}': expected one list of client ids",
                  kCaughtStateKey);
    for (int64_t id : int64_list(it->second, 0, kCaughtStateKey)) {
      records_[id] = {options_.cosine_strikes, options_.cosine_strikes};  // caught under any share
    }
    rest.erase(it);
  }
  if (auto it = rest.find(kStrikesStateKey); it != rest.end()) {
    const std::vector<int64_t> ids = int64_list(it->second, 0, kStrikesStateKey);
    const std::vector<int64_t> counts = int64_list(it->second, 1, kStrikesStateKey);
    // Checkpoints before --cosine-drop-share kept no round counts: as many rounds as drops.
    const std::vector<int64_t> rounds =
        it->second.size() > 2 ? int64_list(it->second, 2, kStrikesStateKey) : counts;
    FEDSIGN_CHECK(it->second.size() <= 3 && ids.size() == counts.size() &&
                      ids.size() == rounds.size(),
                  "robust state '{}': expected client ids and as many counts and rounds",
                  kStrikesStateKey);
    for (std::size_t i = 0; i < ids.size(); ++i) records_[ids[i]] = {counts[i], rounds[i]};
    rest.erase(it);
  }
  inner().load_state(rest);
}

std::vector<FitInstruction> RobustStrategy::configure_fit(int64_t round, const Weights& global,
                                                          const ClientManager& clients) {
  std::vector<FitInstruction> out = inner().configure_fit(round, global, clients);
  fit_config_ = out.empty() ? Config{} : out.front().ins.config;
  return out;
}

std::string RobustStrategy::name() const {
  const bool krum = options_.rule == BufferedRule::kMultiKrum && options_.krum_m == 1;
  return inner().name() + "+" + (krum ? std::string("krum") : to_string(options_.rule));
}

std::unique_ptr<FitAggregation> RobustStrategy::begin_aggregate_fit(int64_t round,
                                                                    const Weights& global) {
  return std::make_unique<Aggregation>(*this, round, global);
}

}  // namespace fedsign::fl::robust
