#include "fedsign/fl/privacy/dp_fedavg.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "fedsign/core/check.h"
#include "fedsign/fl/strategy/aggregate.h"
#include "fedsign/fl/update.h"
#include "fedsign/fl/rng.h"

namespace fedsign::fl::privacy {

namespace {
// Seed purposes of this wrapper (disjoint from rng.h's Stream values).
constexpr uint64_t kSampleStream = 0xD0, kUpdateNoiseStream = 0xD1, kCountNoiseStream = 0xD2;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

class DpFedAvg::Aggregation : public FitAggregation {
 public:
  Aggregation(DpFedAvg& s, int64_t round, Weights global)
      : s_(s), round_(round), global_(std::move(global)) {}

  void add(FitResult result) override {
    Weights delta = model_delta(global_, result.weights);
    if (s_.options_.mode == DpMode::kCentral) {
      double norm = 0;
      delta = clip_delta(delta, s_.clip_, &norm);
      unclipped_ += norm <= s_.clip_ ? 1 : 0;
    } else {  // the client clipped and noised; it reports whether it had to clip
      auto bit = result.metrics.find(dp_keys::kUnclipped);
      unclipped_ += bit != result.metrics.end() && bit->second > 0.5 ? 1 : 0;
      result.metrics.erase(dp_keys::kUnclipped);  // only the noisy count is published
    }
    sum_.add(delta, 1.0);  // unweighted: every client moves the average by at most C / m
    metrics_.add(result.metrics, static_cast<double>(std::max<int64_t>(1, result.num_examples)));
  }

  AggregateFitResult finish(const std::vector<Failure>& failures) override {
    if (sum_.empty()) {  // nothing computed from data, nothing released, nothing to account
      AggregateFitResult out{global_, {}};
      out.metrics["num_results"] = 0;
      out.metrics["num_failures"] = static_cast<double>(failures.size());
      out.metrics["dp_epsilon"] = s_.epsilon();
      return out;
    }
    return s_.aggregate_sum(round_, global_, sum_.sum(), sum_.count(), unclipped_,
                            metrics_.mean(), failures);
  }

 private:
  DpFedAvg& s_;
  int64_t round_;
  Weights global_;
  WeightedSum sum_;
  MetricsMean metrics_;
  int64_t unclipped_ = 0;
};

DpFedAvg::DpFedAvg(std::unique_ptr<Strategy> inner, DpOptions options)
    : inner_(std::move(inner)), options_(options), clip_(options.clip) {
  FEDSIGN_CHECK(inner_ != nullptr, "DP: no inner strategy");
  FEDSIGN_CHECK(inner_->name() != "scaffold",
                "DP: scaffold's control variates are per-client releases the DP wrapper does not "
                "clip or noise; use fedavg, fedprox, fedavgm or fedopt");
  FEDSIGN_CHECK(options_.clip > 0, "DP: clip {} must be > 0", options_.clip);
  FEDSIGN_CHECK(options_.noise_multiplier >= 0, "DP: noise multiplier {} < 0",
                options_.noise_multiplier);
  FEDSIGN_CHECK(options_.delta > 0 && options_.delta < 1, "DP: delta {} not in (0, 1)",
                options_.delta);
  FEDSIGN_CHECK(options_.target_quantile >= 0 && options_.target_quantile <= 1,
                "DP: target quantile {} not in [0, 1]", options_.target_quantile);
  FEDSIGN_CHECK(options_.clip_learning_rate > 0, "DP: clip learning rate {} <= 0",
                options_.clip_learning_rate);
}

double DpFedAvg::count_stddev(int64_t sampled) const {
  return options_.clipped_count_stddev >= 0 ? options_.clipped_count_stddev
                                            : static_cast<double>(sampled) / 20.0;
}

double DpFedAvg::update_noise_multiplier(int64_t sampled) const {
  const double z = options_.noise_multiplier;
  if (!options_.adaptive_clip || z == 0) return z;
  const double sb = count_stddev(sampled);
  FEDSIGN_CHECK(2 * sb > z, "DP adaptive clipping: clipped-count noise stddev {} must exceed half "
                "the noise multiplier {} (raise clipped_count_stddev or clients per round)", sb, z);
  return std::pow(std::pow(z, -2) - std::pow(2 * sb, -2), -0.5);
}

double DpFedAvg::client_noise_stddev(int64_t sampled) const {
  return update_noise_multiplier(sampled) * clip_ / std::sqrt(static_cast<double>(sampled));
}

std::vector<FitInstruction> DpFedAvg::configure_fit(int64_t round, const Weights& global,
                                                    const ClientManager& clients) {
  std::vector<FitInstruction> base = inner_->configure_fit(round, global, clients);
  FEDSIGN_CHECK(!base.empty(), "DP round {}: no client to sample", round);
  const auto m = static_cast<int64_t>(base.size());
  const double q = static_cast<double>(m) / static_cast<double>(clients.num_available());
  const double client_stddev = client_noise_stddev(m);  // validates the adaptive noise split
  if (options_.target_epsilon > 0) {
    RdpAccountant next = accountant_;
    next.compose(q, options_.noise_multiplier, 1);
    const double eps = next.epsilon(options_.delta);
    FEDSIGN_CHECK(eps <= options_.target_epsilon || options_.allow_over_budget,
                  "DP budget: round {} would reach epsilon {:.4g} > target {:.4g} at delta {:g}: "
                  "stopped after round {} (allow-over-budget to go on)", round, eps,
                  options_.target_epsilon, options_.delta, round - 1);
  }
  // Exactly m clients, uniformly without replacement, from the wrapper's own seed: the
  // sampling the accountant's rate q = m / N describes, whatever the inner strategy does.
  FitIns ins = base.front().ins;
  ins.config[dp_keys::kMode] = to_string(options_.mode);
  ins.config[dp_keys::kClip] = clip_;
  if (options_.mode == DpMode::kDistributed) ins.config[dp_keys::kClientNoise] = client_stddev;
  std::vector<FitInstruction> out;
  for (ClientId id : clients.sample(m, derive_seed(options_.seed, {kSampleStream, uint64_t(round)}))) {
    out.push_back({id, ins});
  }
  sampled_.erase(sampled_.begin(), sampled_.lower_bound(round - 4));  // keep a few rounds
  sampled_[round] = {m, q};
  return out;
}

std::unique_ptr<FitAggregation> DpFedAvg::begin_aggregate_fit(int64_t round, const Weights& global) {
  return std::make_unique<Aggregation>(*this, round, global);
}

AggregateFitResult DpFedAvg::aggregate_sum(int64_t round, const Weights& global,
                                           const Weights& delta_sum, int64_t reported,
                                           int64_t unclipped, Metrics metrics,
                                           const std::vector<Failure>& failures) {
  auto it = sampled_.find(round);
  FEDSIGN_CHECK(it != sampled_.end(), "DP round {}: aggregated without configure_fit (the "
                "sampling rate is unknown)", round);
  const auto [m, q] = it->second;
  FEDSIGN_CHECK(reported >= 1 && reported <= m, "DP round {}: {} results for {} sampled clients",
                round, reported, m);
  check_same_layout(delta_sum, global, "DP update sum");
  const double z_delta = update_noise_multiplier(m);
  const double md = static_cast<double>(m);
  // Central: the server's noise on the average; distributed: the clients' shares are in the sum.
  const double server_stddev =
      options_.mode == DpMode::kCentral ? z_delta * clip_ / md : 0.0;
  at::Generator gen = at::detail::createCPUGenerator(
      derive_seed(options_.seed, {kUpdateNoiseStream, uint64_t(round)}));
  Weights candidate;
  candidate.names = global.names;
  for (std::size_t i = 0; i < global.size(); ++i) {
    const auto& g = global.tensors[i];
    if (!g.is_floating_point()) {
      candidate.tensors.push_back(g);
      continue;
    }
    torch::Tensor avg = delta_sum.tensors[i].to(torch::kFloat64) / md;
    if (server_stddev > 0) avg = avg + torch::randn(g.sizes(), gen, torch::kFloat64) * server_stddev;
    torch::Tensor w = g.to(torch::kFloat64) + avg;
    if (ends_with(global.names[i], "running_var")) w = w.clamp_min(0);  // post-processing
    candidate.tensors.push_back(w.to(g.scalar_type()));
  }
  // The inner strategy's server step (momentum, Adam...) on the private average.
  auto inner = inner_->begin_aggregate_fit(round, global);
  inner->add(FitResult{-1, std::move(candidate), 1, metrics, std::nullopt});
  AggregateFitResult out = inner->finish(failures);
  // Accounting: the noise multiplier the released sum actually carries. Distributed mode with
  // k < m reporters has only k of the m noise shares: z_delta sqrt(k / m).
  double z_update = z_delta;
  if (options_.mode == DpMode::kDistributed) z_update *= std::sqrt(static_cast<double>(reported) / md);
  double z_account = z_update;
  const double round_clip = clip_;
  if (options_.adaptive_clip && z_update > 0) {
    z_account = std::pow(std::pow(z_update, -2) + std::pow(2 * count_stddev(m), -2), -0.5);
  }
  accountant_.compose(q, z_account, 1);
  if (options_.adaptive_clip) {
    at::Generator count_gen = at::detail::createCPUGenerator(
        derive_seed(options_.seed, {kCountNoiseStream, uint64_t(round)}));
    const double noise = options_.noise_multiplier > 0
        ? torch::randn({1}, count_gen, torch::kFloat64).item<double>() * count_stddev(m) : 0.0;
    const double unclipped_fraction = (static_cast<double>(unclipped) + noise) / md;
    clip_ *= std::exp(-options_.clip_learning_rate * (unclipped_fraction - options_.target_quantile));
    out.metrics["dp_unclipped_fraction"] = unclipped_fraction;  // noisy: safe to publish
  }
  out.metrics["num_results"] = static_cast<double>(reported);
  out.metrics["num_failures"] = static_cast<double>(failures.size());
  out.metrics["dp_epsilon"] = epsilon();
  out.metrics["dp_delta"] = options_.delta;
  out.metrics["dp_clip"] = round_clip;
  out.metrics["dp_noise_stddev"] = z_delta * round_clip / md;  // on the average's coordinates
  out.metrics["dp_noise_multiplier"] = z_account;
  return out;
}

std::map<std::string, Weights> DpFedAvg::state() const {
  std::map<std::string, Weights> state = inner_->state();
  Weights dp;
  dp.names = {"orders", "rdp", "steps_and_clip"};
  auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  dp.tensors = {torch::tensor(accountant_.orders(), f64), torch::tensor(accountant_.rdp(), f64),
                torch::tensor({static_cast<double>(accountant_.steps()), clip_}, f64)};
  state["dp_accountant"] = std::move(dp);
  return state;
}

void DpFedAvg::load_state(const std::map<std::string, Weights>& state) {
  std::map<std::string, Weights> rest = state;
  auto it = rest.find("dp_accountant");
  if (it != rest.end()) {
    const Weights& dp = it->second;
    FEDSIGN_CHECK(dp.size() == 3 && dp.names[2] == "steps_and_clip" && dp.tensors[2].numel() == 2,
                  "DP state: malformed accountant record");
    auto vec = [](const torch::Tensor& t) {
      torch::Tensor c = t.to(torch::kFloat64).contiguous();
      return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
    };
    const auto tail = vec(dp.tensors[2]);
    accountant_.restore(vec(dp.tensors[0]), vec(dp.tensors[1]), static_cast<int64_t>(tail[0]));
    clip_ = tail[1];
    rest.erase(it);
  }
  inner_->load_state(rest);
}

std::unique_ptr<DpFedAvg> wrap_dp(std::unique_ptr<Strategy> inner, const DpOptions& options) {
  return std::make_unique<DpFedAvg>(std::move(inner), options);
}

}  // namespace fedsign::fl::privacy
