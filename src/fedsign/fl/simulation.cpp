#include "fedsign/fl/simulation.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "fedsign/core/check.h"
#include "fedsign/fl/server.h"
#include "fedsign/fl/server_checkpoint.h"
#include "fedsign/models/registry.h"
#include "fedsign/models/weights.h"
#include "fedsign/train/evaluate.h"
#include "fedsign/train/trainer.h"

namespace fedsign::fl {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Worker make_worker(const SimulationConfig& config, const data::ImageSet& set) {
  train::configure_threads(config.local.threads);
  torch::manual_seed(config.seed);  // the initial global model
  return Worker(config.local, set.height, config.num_classes);
}

void check_settings(const std::string& saved, const std::string& current,
                    const std::filesystem::path& file) {
  const auto a = nlohmann::json::parse(saved), b = nlohmann::json::parse(current);
  if (a == b) return;
  std::vector<std::string> changed;
  for (const auto& [key, value] : b.items()) {
    if (!a.contains(key) || a.at(key) != value) changed.push_back(key);
  }
  for (const auto& [key, value] : a.items()) {
    if (!b.contains(key)) changed.push_back(key);
  }
  std::string list;
  for (const auto& key : changed) list += (list.empty() ? "" : ", ") + key;
  FEDSIGN_FAIL("{}: cannot resume, the run's settings changed ({})", file.string(), list);
}

}  // namespace

Simulation::Simulation(const data::ImageSet& set, std::vector<ClientData> clients,
                       Strategy& strategy, SimulationConfig config)
    : set_(set),
      clients_(std::move(clients)),
      strategy_(strategy),
      config_(std::move(config)),
      manager_(static_cast<int64_t>(clients_.size())),
      worker_(make_worker(config_, set)) {
  FEDSIGN_CHECK(config_.rounds >= 1, "rounds must be >= 1, got {}", config_.rounds);
  FEDSIGN_CHECK(config_.dropout_prob >= 0 && config_.dropout_prob < 1,
                "client dropout probability {} not in [0, 1)", config_.dropout_prob);
  FEDSIGN_CHECK(config_.straggler_prob >= 0 && config_.straggler_prob <= 1,
                "straggler probability {} not in [0, 1]", config_.straggler_prob);
  FEDSIGN_CHECK(config_.straggler_min_fraction > 0 && config_.straggler_min_fraction <= 1,
                "straggler minimum fraction {} not in (0, 1]", config_.straggler_min_fraction);
  faults_ = {config_.dropout_prob, config_.straggler_prob, config_.straggler_min_fraction,
             config_.seed};
  if (config_.run_dir.empty()) {
    states_ = std::make_unique<MemoryClientStateStore>();
  } else {
    auto disk = std::make_unique<DiskClientStateStore>(config_.run_dir / "client_states");
    disk_states_ = disk.get();
    states_ = std::move(disk);
  }
  if (auto initial = strategy_.initialize_parameters()) {
    global_ = std::move(*initial);
  } else {
    global_ = get_weights(worker_.model());
  }
}

SimulationResult Simulation::run(const RoundCallback& on_round) {
  SimulationResult result;
  const bool write = !config_.run_dir.empty();
  if (write) std::filesystem::create_directories(config_.run_dir);
  if (config_.resume) {
    FEDSIGN_CHECK(write, "resume needs a run directory");
    ServerCheckpoint cp = load_server_checkpoint(checkpoint_file());
    FEDSIGN_CHECK(cp.strategy == strategy_.name(), "{}: cannot resume a {} run with strategy {}",
                  checkpoint_file().string(), cp.strategy, strategy_.name());
    check_settings(cp.settings_json, config_.settings_json, checkpoint_file());
    check_same_layout(cp.global, global_, checkpoint_file().string());
    global_ = std::move(cp.global);
    strategy_.load_state(cp.strategy_state);
    disk_states_->restore(cp.client_states);
    result.history = metrics_from_json(cp.history_json);
    result.first_round = cp.round + 1;
    spdlog::info("resumed from {} after round {}", checkpoint_file().string(), cp.round);
  } else if (disk_states_) {
    disk_states_->restore({});  // a new run: no states from an earlier run in this directory
  }

  Server server(strategy_, manager_, [this](ClientId id) -> std::unique_ptr<Client> {
    FEDSIGN_CHECK(id >= 0 && static_cast<std::size_t>(id) < clients_.size(), "no client {}", id);
    return std::make_unique<SimulatedClient>(id, set_, clients_[static_cast<std::size_t>(id)],
                                             *states_, worker_, config_.bn, faults_);
  });
  std::optional<Clock::time_point> last_plot;
  for (int64_t round = result.first_round; round <= config_.rounds; ++round) {
    const bool evaluate = round == config_.rounds ||
                          (config_.eval_every > 0 && round % config_.eval_every == 0);
    if (disk_states_) disk_states_->begin_round(round);
    RoundRecord record = server.run_round(round, global_, evaluate);
    result.history.push_back(to_metrics(record));
    if (write) {
      const auto start = Clock::now();
      ServerCheckpoint cp;
      cp.round = round;
      cp.strategy = strategy_.name();
      cp.global = global_;
      cp.strategy_state = strategy_.state();
      cp.client_states = disk_states_->index();
      cp.history_json = metrics_to_json(result.history);
      cp.settings_json = config_.settings_json;
      save_server_checkpoint(checkpoint_file(), cp);
      disk_states_->commit();
      // Charts after evaluated rounds, at most every 10 s (and after the last round).
      if (evaluate && (round == config_.rounds || !last_plot || since(*last_plot) >= 10.0)) {
        write_run_plots(config_.run_dir, result.history, config_.title);
        last_plot = Clock::now();
      }
      // Writing is overhead too: recorded in memory and metrics.csv (the checkpoint's copy of
      // this row lacks it).
      record.seconds += since(start);
      result.history.back() = to_metrics(record);
      write_metrics_csv(config_.run_dir, result.history);
    }
    if (on_round) on_round(result.history.back());
  }
  result.global = global_;
  result.client_states = states_->num_states();
  result.client_state_bytes = states_->bytes();
  return result;
}

void Simulation::save_global_model(const std::filesystem::path& file) {
  set_weights(worker_.model(), global_);
  models::save_weights(worker_.model(), file);
}

CentralEvaluateFn make_central_evaluator(const data::ImageSet& set, data::Indices indices,
                                         const train::TrainConfig& config, int64_t num_classes) {
  struct State {
    std::shared_ptr<models::Classifier> model;
    train::ComputeMode mode;
  };
  auto state = std::make_shared<State>();
  state->mode = train::resolve_compute_mode(config.precision, config.memory_format);
  return [&set, indices = std::move(indices), config, num_classes, state](
             int64_t, const Weights& global) -> std::optional<EvaluateSummary> {
    if (indices.empty()) return std::nullopt;
    if (!state->model) {  // created on first use, after the simulation seeded torch
      models::ModelOptions options;
      options.num_classes = num_classes;
      options.input_size = set.height;
      options.dropout = config.dropout;
      state->model = models::create_model(config.model, options);
      train::apply_memory_format(*state->model, state->mode.channels_last);
    }
    set_weights(*state->model, global);
    const train::Predictions p =
        train::predict_subset(*state->model, set, indices, state->mode, config.eval_batch_size);
    EvaluateSummary summary;
    summary.loss = p.mean_loss;
    summary.metrics["accuracy"] = p.accuracy();
    summary.num_examples = static_cast<int64_t>(indices.size());
    return summary;
  };
}

}  // namespace fedsign::fl
