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
        std::vector<bool> caught_before;
        if (options_.cosine_memory) {
          for (int64_t id : client_ids_) caught_before.push_back(strategy_.caught_.count(id) > 0);
        }
        CosineFilterResult r =
            cosine_filter(updates_, weights_, options_.cosine_filter, caught_before);
        double mean = 0;
        for (std::size_t i = 0; i < r.cosine.size(); ++i) {
          mean += r.cosine[i] / static_cast<double>(r.cosine.size());
          spdlog::debug("cosine filter (round {}): client {} cosine {:.4f}{}", round_,
                        client_ids_[i], r.cosine[i], r.dropped[i] ? " dropped" : "");
          if (options_.cosine_memory && r.dropped[i]) strategy_.caught_.insert(client_ids_[i]);
        }
        metrics["robust_selected"] = static_cast<double>(r.kept.size());
        metrics["robust_mean_cosine"] = mean;
        metrics["robust_duplicates"] = static_cast<double>(r.duplicates);
        if (options_.cosine_memory) {
          metrics["robust_caught_clients"] = static_cast<double>(strategy_.caught_.size());
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
  FEDSIGN_CHECK(options_.max_buffered_updates >= 1, "robust aggregation: max_buffered_updates {} < 1",
                options_.max_buffered_updates);
  if (options_.rule == BufferedRule::kTrimmedMean) trimmed_count(3, options_.trim_beta);  // range
  if (options_.rule == BufferedRule::kMultiKrum) {
    FEDSIGN_CHECK(options_.krum_f >= 0, "Krum: f = {} < 0", options_.krum_f);
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

namespace {
constexpr const char* kCaughtStateKey = "cosine.caught";
}  // namespace

std::map<std::string, Weights> RobustStrategy::state() const {
  std::map<std::string, Weights> out = inner().state();
  if (options_.cosine_memory && !caught_.empty()) {
    Weights w;
    w.names = {"client_ids"};
    const std::vector<int64_t> ids(caught_.begin(), caught_.end());
    w.tensors = {torch::tensor(ids, torch::kInt64)};
    out[kCaughtStateKey] = std::move(w);
  }
  return out;
}

void RobustStrategy::load_state(const std::map<std::string, Weights>& state) {
  std::map<std::string, Weights> rest = state;
  caught_.clear();
  if (auto it = rest.find(kCaughtStateKey); it != rest.end()) {
    const Weights& w = it->second;
    FEDSIGN_CHECK(w.size() == 1 && w.tensors[0].dim() == 1 &&
                      w.tensors[0].scalar_type() == torch::kInt64,
                  "robust state '{}': expected one int64 list of client ids", kCaughtStateKey);
    const torch::Tensor ids = w.tensors[0].contiguous();
    caught_.insert(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
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
