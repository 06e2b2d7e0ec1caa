// Client-level differential privacy for federated averaging: DP-FedAvg (McMahan, Ramage, Talwar
// and Zhang 2018, "Learning Differentially Private Recurrent Language Models") as a wrapper
// around any FedAvg-family Strategy, after Flower's DifferentialPrivacyServerSide/ClientSide
// FixedClipping and AdaptiveClipping. Each round:
//   1. configure_fit samples exactly m clients uniformly without replacement (seeded), so the
//      per-round rate is q = m / N, the rate the accountant composes;
//   2. each update delta_k = w_k - w (all floating tensors, BatchNorm statistics included, since
//      they too are computed from the data) is clipped to L2 norm C:
//      delta_k * min(1, C / ||delta_k||);
//   3. the clipped updates are averaged WITHOUT weights over the m sampled clients (a dropped
//      client counts as a zero update, so one client moves the sum by at most C), and Gaussian
//      noise N(0, (z C / m)^2) per coordinate makes the average private:
//        central:     the server clips and adds the noise;
//        distributed: each client clips and adds N(0, (z C)^2 / m) (client_privatize below),
//                     so the m shares sum to the same noise and the server may only ever see
//                     the sum (secure aggregation, secagg.h);
//   4. the inner strategy's server update (FedAvg: take it; FedAvgM/FedOpt: momentum, Adam)
//      is applied to w + average, and the RDP accountant adds one sampled-Gaussian step
//      (q, z); epsilon at delta is reported as metric "dp_epsilon".
// Adaptive clipping (Andrew, Thakkar, McMahan and Ramaswamy 2021, "Differentially Private
// Learning with Adaptive Clipping"): C <- C exp(-eta (b - gamma)), where b is the noisy
// fraction of unclipped updates (noise stddev sigma_b on the count) and gamma the target
// quantile; the update noise then uses z_delta = (z^-2 - (2 sigma_b)^-2)^(-1/2) so both
// releases together cost what noise multiplier z costs. Documented in docs/privacy.md.
// Strategies are not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "fedsign/fl/privacy/rdp_accountant.h"
#include "fedsign/fl/strategy/strategy.h"

namespace fedsign::fl::privacy {

enum class DpMode { kCentral, kDistributed };
DpMode parse_dp_mode(const std::string& name);  // "central" | "distributed"
std::string to_string(DpMode mode);

struct DpOptions {
  DpMode mode = DpMode::kCentral;
  double clip = 1.0;                  // C: L2 bound of one client's update (initial if adaptive)
  bool adaptive_clip = false;
  double target_quantile = 0.5;       // adaptive: gamma, the share of updates left unclipped
  double clip_learning_rate = 0.2;    // adaptive: eta (geometric update)
  double clipped_count_stddev = -1;   // adaptive: sigma_b; < 0 means m / 20 (Andrew et al.)
  double noise_multiplier = 1.0;      // z; 0 = no noise (clipping only, epsilon infinite)
  double target_epsilon = 0;          // > 0: refuse a round that would pass it ...
  bool allow_over_budget = false;     // ... unless this is set (the run goes on, logged)
  double delta = 1e-5;
  uint64_t seed = 0;                  // client sampling and server noise
};

// Keys the DP strategy adds to every FitIns config (the client reads them).
namespace dp_keys {
inline constexpr const char* kMode = "dp_mode";                    // string
inline constexpr const char* kClip = "dp_clip";                    // double, this round's C
inline constexpr const char* kClientNoise = "dp_client_noise_stddev";  // double, distributed
inline constexpr const char* kUnclipped = "dp_unclipped";  // metric: 1 if ||delta|| <= C
}  // namespace dp_keys

// What a client calls on its trained model before replying to a DP round. Distributed mode:
// returns global + clip(local - global) + N(0, dp_client_noise_stddev^2) per coordinate
// (noise drawn from `noise_seed`, which should come from the client's own randomness) and sets
// metrics["dp_unclipped"]. Central mode, or a config without DP keys: returns `local`.
Weights client_privatize(const Weights& global, const Weights& local, const Config& config,
                         uint64_t noise_seed, Metrics* metrics = nullptr);

class DpFedAvg : public Strategy {
 public:
  DpFedAvg(std::unique_ptr<Strategy> inner, DpOptions options);

  std::string name() const override { return "dp-" + inner_->name(); }
  std::optional<Weights> initialize_parameters() override { return inner_->initialize_parameters(); }
  std::vector<FitInstruction> configure_fit(int64_t round, const Weights& global,
                                            const ClientManager& clients) override;
  std::unique_ptr<FitAggregation> begin_aggregate_fit(int64_t round,
                                                      const Weights& global) override;
  std::vector<EvaluateInstruction> configure_evaluate(int64_t round, const Weights& global,
                                                      const ClientManager& clients) override {
    return inner_->configure_evaluate(round, global, clients);
  }
  std::optional<EvaluateSummary> aggregate_evaluate(int64_t round,
                                                    const std::vector<EvaluateResult>& results,
                                                    const std::vector<Failure>& failures) override {
    return inner_->aggregate_evaluate(round, results, failures);
  }
  std::optional<EvaluateSummary> evaluate(int64_t round, const Weights& global) override {
    return inner_->evaluate(round, global);
  }
  Weights released_model(const Weights& global) const override {
    return inner_->released_model(global);
  }
  std::map<std::string, Weights> state() const override;
  void load_state(const std::map<std::string, Weights>& state) override;

  // The next model from the SUM of the round's (clipped; in distributed mode noised) updates,
  // e.g. as secure aggregation delivers it: adds the central noise, applies the inner server
  // update and accounts the round. `reported` clients contributed, `unclipped` of them were
  // within the clip (for adaptive clipping; ignored otherwise).
  AggregateFitResult aggregate_sum(int64_t round, const Weights& global, const Weights& delta_sum,
                                   int64_t reported, int64_t unclipped, Metrics metrics,
                                   const std::vector<Failure>& failures);

  double epsilon() const { return accountant_.epsilon(options_.delta); }
  double clip() const { return clip_; }
  const RdpAccountant& accountant() const { return accountant_; }
  const DpOptions& options() const { return options_; }
  // Distributed mode: each of m clients adds noise of stddev z_delta * C / sqrt(m), so the sum
  // carries z_delta * C, as the central mode's.
  double client_noise_stddev(int64_t sampled) const;

 private:
  class Aggregation;
  double update_noise_multiplier(int64_t sampled) const;
  double count_stddev(int64_t sampled) const;

  std::unique_ptr<Strategy> inner_;
  DpOptions options_;
  RdpAccountant accountant_;
  double clip_;
  std::map<int64_t, std::pair<int64_t, double>> sampled_;  // round -> (m, q)
};

// wrap_dp(make_strategy("fedavg", ...), dp): the inner strategy made client-level private.
// Refuses inner strategies whose clients send more than a model (scaffold).
std::unique_ptr<DpFedAvg> wrap_dp(std::unique_ptr<Strategy> inner, const DpOptions& options);

}  // namespace fedsign::fl::privacy
