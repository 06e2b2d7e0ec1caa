#include "fedsign/fl/run/driver.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"

namespace fedsign::fl {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

bool evaluates(const RunConfig& config, int64_t round) {
  return round == config.rounds || (config.eval_every > 0 && round % config.eval_every == 0);
}

void check_same_settings(const std::string& saved, const std::string& current,
                         const std::filesystem::path& file, const std::string& current_defaults) {
  const auto a = nlohmann::json::parse(saved), b = nlohmann::json::parse(current);
  if (a == b) return;
  const auto defaults = nlohmann::json::parse(current_defaults);
  std::string list;
  for (const auto& [key, value] : b.items()) {
    // An option the saved run did not have (fedsign was updated since) ran as its default.
    const bool added_at_default = !a.contains(key) && defaults.contains(key) &&
                                  defaults.at(key) == value;
    if (added_at_default) continue;
    if (!a.contains(key) || a.at(key) != value) list += (list.empty() ? "" : ", ") + key;
  }
  for (const auto& [key, value] : a.items()) {
    if (!b.contains(key)) list += (list.empty() ? "" : ", ") + key;
  }
  FEDSIGN_CHECK(list.empty(), "{}: cannot resume, the run's settings changed ({})", file.string(),
                list);
}

RunDriver::RunDriver(Strategy& strategy, const ClientManager& clients, ClientFactory factory,
                     RunConfig config, RunHooks& hooks)
    : strategy_(strategy),
      server_(strategy, clients, std::move(factory)),
      config_(std::move(config)),
      hooks_(hooks) {
  FEDSIGN_CHECK(config_.rounds >= 1, "rounds must be >= 1, got {}", config_.rounds);
  FEDSIGN_CHECK(config_.eval_every >= 0, "eval-every must be >= 0, got {}", config_.eval_every);
}

RunResult RunDriver::run(Weights& global, const RoundCallback& on_round) {
  RunResult result;
  const bool write = !config_.run_dir.empty();
  if (write) std::filesystem::create_directories(config_.run_dir);
  if (config_.resume) {
    FEDSIGN_CHECK(write, "resume needs a run directory");
    FEDSIGN_CHECK(server_checkpoint_exists(checkpoint_file()),
                  "{}: no checkpoint to resume from (drop --resume to start a new run)",
                  checkpoint_file().string());
    ServerCheckpoint cp = load_server_checkpoint(checkpoint_file());
    FEDSIGN_CHECK(cp.strategy == strategy_.name(), "{}: cannot resume a {} run with strategy {}",
                  checkpoint_file().string(), cp.strategy, strategy_.name());
    check_same_settings(cp.settings_json, config_.settings_json, checkpoint_file(),
                        config_.settings_defaults_json);
    check_same_layout(cp.global, global, checkpoint_file().string());
    global = std::move(cp.global);
    strategy_.load_state(cp.strategy_state);
    result.history = metrics_from_json(cp.history_json);
    result.first_round = cp.round + 1;
    hooks_.restore(cp);
    spdlog::info("resumed from {} after round {}", checkpoint_file().string(), cp.round);
    if (const int stale = remove_stale_temporaries(checkpoint_file(), previous_checkpoint(checkpoint_file())))
      spdlog::info("removed {} temporary checkpoint file(s) left by the crashed run", stale);
  } else {
    hooks_.start_fresh();
  }

  std::optional<Clock::time_point> last_plot;
  // Writing a round's checkpoint, metrics and charts is overhead too. It is charged to the next
  // round, so that every row is final when its checkpoint is written: a resumed run's
  // metrics.csv repeats the rows written before the crash exactly.
  double write_seconds = 0;
  for (int64_t round = result.first_round; round <= config_.rounds; ++round) {
    hooks_.before_round(round);
    const bool evaluate = evaluates(config_, round);
    RoundRecord record = server_.run_round(round, global, evaluate);
    record.seconds += write_seconds;
    hooks_.after_round(record);
    for (const auto& [key, value] : hooks_.round_columns(round)) record.columns[key] = value;
    result.history.push_back(to_metrics(record));
    if (write) {
      const auto start = Clock::now();
      hooks_.before_checkpoint(round);
      ServerCheckpoint cp;
      cp.round = round;
      cp.strategy = strategy_.name();
      cp.global = global;
      cp.strategy_state = strategy_.state();
      cp.client_states = hooks_.client_states();
      cp.history_json = metrics_to_json(result.history);
      cp.settings_json = config_.settings_json;
      cp.extra_json = hooks_.extra_json();
      save_server_checkpoint(checkpoint_file(), cp);
      hooks_.checkpoint_written(round);
      hooks_.global_model(round, strategy_.released_model(global));
      if (evaluate && (round == config_.rounds || !last_plot || since(*last_plot) >= 10.0)) {
        write_run_plots(config_.run_dir, result.history, config_.title);
        last_plot = Clock::now();
      }
      write_metrics_csv(config_.run_dir, result.history);
      write_seconds = since(start);
    }
    hooks_.after_checkpoint(result.history.back());
    if (on_round) on_round(result.history.back());
  }
  return result;
}

}  // namespace fedsign::fl
