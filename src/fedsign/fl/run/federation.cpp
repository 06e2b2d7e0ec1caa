#include "fedsign/fl/run/federation.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "fedsign/core/check.h"
#include "fedsign/fl/privacy/rdp_accountant.h"
#include "fedsign/fl/strategy/fedavg.h"
#include "fedsign/fl/strategy/frozen_layers.h"
#include "fedsign/fl/strategy/model_ema.h"
#include "fedsign/models/weights.h"

namespace fedsign::fl {

namespace {

// noise_multiplier_for searches up to this multiplier (rdp_accountant.h).
constexpr double kLargestNoiseMultiplier = 1e4;

// What the run will spend, said before it starts: a run that is going to stop at the budget
// should not surprise anyone hundreds of rounds in.
void log_dp_plan(const FederationConfig& c, const privacy::DpOptions& dp) {
  const double q = dp_sampling_rate(c);
  const double planned = privacy::epsilon_for(q, dp.noise_multiplier, c.rounds, dp.delta);
  if (c.dp.noise_multiplier < 0) {
    spdlog::info("DP ({}): noise multiplier {:.4f} solved for epsilon {:g} at delta {:g} over {} "
                 "rounds at sampling rate q = {:.4g}; clip {:g}{}",
                 c.dp_mode, dp.noise_multiplier, dp.target_epsilon, dp.delta, c.rounds, q, dp.clip,
                 dp.adaptive_clip ? " (adaptive)" : "");
  } else {
    spdlog::info("DP ({}): noise multiplier {:g}, clip {:g}{}: epsilon {:.4g} at delta {:g} after "
                 "{} rounds at sampling rate q = {:.4g}",
                 c.dp_mode, dp.noise_multiplier, dp.clip, dp.adaptive_clip ? " (adaptive)" : "",
                 planned, dp.delta, c.rounds, q);
  }
  if (dp.target_epsilon > 0 && planned > dp.target_epsilon) {
    spdlog::warn("DP: {} rounds would reach epsilon {:.4g} > --target-epsilon {:g}: {}", c.rounds,
                 planned, dp.target_epsilon,
                 dp.allow_over_budget ? "--allow-over-budget, the run goes on past it"
                                      : "the run will stop before the round that would pass it");
  }
}

}  // namespace

StrategyOptions federation_strategy_options(const FederationConfig& c) {
  FEDSIGN_CHECK(c.min_fit_clients >= 1, "min-fit-clients must be >= 1, got {}", c.min_fit_clients);
  FEDSIGN_CHECK(c.min_results >= 1, "min-results must be >= 1, got {}", c.min_results);
  FEDSIGN_CHECK(c.min_available_clients >= 1, "min-available-clients must be >= 1, got {}",
                c.min_available_clients);
  FEDSIGN_CHECK(c.lr > 0, "lr must be > 0, got {}", c.lr);
  StrategyOptions o;
  o.fraction_fit = c.fraction_fit;
  o.clients_per_round = c.clients_per_round;
  o.min_fit_clients = c.min_fit_clients;
  o.min_results = c.min_results;
  o.fraction_evaluate = c.fraction_evaluate;
  o.evaluate_clients_per_round = c.evaluate_clients;
  o.seed = c.seed;
  o.fit_config[keys::kLocalEpochs] = c.local_epochs;
  o.fit_config[keys::kLocalSteps] = c.local_steps;
  o.fit_config[keys::kLr] = c.lr;
  o.lr_schedule = c.round_schedule;
  o.lr_decay = c.lr_decay;
  o.min_lr = c.min_lr;
  o.total_rounds = c.rounds;
  o.mean_over_senders = c.mean_over_senders;
  return o;
}

double dp_sampling_rate(const FederationConfig& c) {
  const int64_t m = std::max(c.clients_per_round, c.min_fit_clients);
  const int64_t n = std::max<int64_t>(1, c.num_clients > 0 ? c.num_clients : c.min_available_clients);
  return std::min(1.0, static_cast<double>(m) / static_cast<double>(n));
}

privacy::DpOptions federation_dp_options(const FederationConfig& c) {
  FEDSIGN_CHECK(c.dp_mode == "central" || c.dp_mode == "distributed",
                "unknown --dp mode '{}' (off, central or distributed)", c.dp_mode);
  // The accountant composes steps of rate q = m / N: a share of whoever is available would make
  // q a moving target that nobody planned for.
  FEDSIGN_CHECK(c.clients_per_round > 0,
                "--dp {} needs --clients-per-round (DP accounting assumes a fixed number of "
                "clients per round)", c.dp_mode);
  FEDSIGN_CHECK(c.strategy != "scaffold",
                "--dp {} cannot run --strategy scaffold: its control variates are per-client "
                "releases that DP does not protect (use fedavg, fedprox, fedavgm or fedopt)",
                c.dp_mode);
  // The inner strategy sees one (already averaged) result per round, so its minimum would
  // never be met; and DP needs none: a missing client counts as a zero update.
  FEDSIGN_CHECK(c.min_results <= 1,
                "--dp {} with --min-results {}: the DP average counts a missing client as a zero "
                "update and needs no minimum (drop --min-results)", c.dp_mode, c.min_results);
  FEDSIGN_CHECK(c.rounds >= 1, "rounds must be >= 1, got {}", c.rounds);
  // DP clips and averages the updates itself, so a robust rule inside it would see one result
  // per round; robust rules on top of DP would need the individual updates DP hides.
  FEDSIGN_CHECK(!robust_enabled(c.robust),
                "--dp {} cannot combine with --robust/--clip-norm: DP clips every update itself "
                "(--dp-clip) and its average leaves no individual updates for a robust rule",
                c.dp_mode);
  privacy::DpOptions dp = c.dp;
  dp.mode = privacy::parse_dp_mode(c.dp_mode);
  dp.seed = c.seed;
  FEDSIGN_CHECK(dp.delta > 0 && dp.delta < 1, "--dp-delta {} not in (0, 1)", dp.delta);
  if (dp.noise_multiplier < 0) {
    FEDSIGN_CHECK(dp.target_epsilon > 0,
                  "--dp {} needs --dp-noise-multiplier or --target-epsilon", c.dp_mode);
    const double q = dp_sampling_rate(c);
    const double floor =
        privacy::epsilon_for(q, kLargestNoiseMultiplier, c.rounds, dp.delta);
    FEDSIGN_CHECK(floor <= dp.target_epsilon,
                  "--target-epsilon {:g} is out of reach: even noise multiplier {:g} gives "
                  "epsilon {:.4g} at delta {:g} after {} rounds at sampling rate {:.4g}",
                  dp.target_epsilon, kLargestNoiseMultiplier, floor, dp.delta, c.rounds, q);
    dp.noise_multiplier = privacy::noise_multiplier_for(dp.target_epsilon, q, c.rounds, dp.delta);
  }
  return dp;
}

void resolve_model_settings(FederationConfig& c, models::Classifier& model) {
  if (!c.init_weights.empty()) {
    models::load_weights(model, c.init_weights);
    c.initial_parameters = get_weights(model);
    spdlog::info("initial global model from {}", c.init_weights);
  }
  c.frozen_tensors.clear();
  if (c.trainable_groups == std::vector<std::string>{"all"}) return;
  models::set_trainable_groups(model, c.trainable_groups);  // validates the names
  models::set_trainable_groups(model, {"all"});
  const Weights layout = get_weights(model);
  const std::vector<bool> trainable = models::trainable_mask(model, layout.names, c.trainable_groups);
  for (std::size_t i = 0; i < layout.size(); ++i) {
    if (!trainable[i]) c.frozen_tensors.push_back(layout.names[i]);
  }
  FEDSIGN_CHECK(c.frozen_tensors.size() < layout.size(),
                "--trainable-groups: nothing left to train");
  spdlog::info("clients train layer groups {} ({} of {} tensors frozen)",
               fmt::join(c.trainable_groups, ","), c.frozen_tensors.size(), layout.size());
}

std::unique_ptr<Strategy> make_federation_strategy(const FederationConfig& c,
                                                   CentralEvaluateFn evaluate,
                                                   robust::ServerRoot root) {
  // DP first: its refusals (scaffold, no fixed per-round count) name the options to change.
  std::optional<privacy::DpOptions> dp;
  if (c.dp_mode != "off") dp = federation_dp_options(c);
  StrategyOptions options = federation_strategy_options(c);
  options.evaluate_fn = std::move(evaluate);
  options.initial_parameters = c.initial_parameters;
  std::map<std::string, double> params = {{"proximal_mu", c.proximal_mu},
                                          {"server_momentum", c.server_momentum},
                                          {"beta1", c.beta1},
                                          {"beta2", c.beta2},
                                          {"tau", c.tau}};
  if (c.server_lr > 0) params["server_lr"] = c.server_lr;
  FEDSIGN_CHECK(c.robust.rule != "fltrust" || root.update,
                "--robust fltrust needs the server's root set (--fltrust-root images of --data)");
  FEDSIGN_CHECK(c.robust.label_test_ratio <= 0 || root.labels,
                "--label-test needs the server's root set (--fltrust-root images of --data)");
  std::unique_ptr<Strategy> strategy =
      wrap_robust(make_strategy(c.strategy, options, params), c.robust, std::move(root));
  if (!c.frozen_tensors.empty()) {
    // Inside DP: the DP wrapper stays outermost (its accountant is what the run reports), and
    // its noisy average passes through FrozenLayers, which restores the frozen tensors.
    strategy = std::make_unique<FrozenLayers>(
        std::move(strategy), c.trainable_groups,
        std::set<std::string>(c.frozen_tensors.begin(), c.frozen_tensors.end()));
  }
  // Inside DP too: the average is post-processing of the released models.
  if (c.model_ema > 0) strategy = std::make_unique<ModelEma>(std::move(strategy), c.model_ema);
  if (!dp) return strategy;
  log_dp_plan(c, *dp);
  return privacy::wrap_dp(std::move(strategy), *dp);
}

int64_t federation_clients_per_round(const FederationConfig& c, int64_t available) {
  // Every built-in strategy samples as FedAvg does.
  return FedAvg(federation_strategy_options(c)).num_fit_clients(available);
}

}  // namespace fedsign::fl
