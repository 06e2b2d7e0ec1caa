// `fedsign fl simulate | partition | compare`: federated learning simulated on one machine. The
// federation's options are declared once in fl_options.cpp and robust_options.cpp (shared with
// `fl server` and `fl client`); the work is done by the fl library (src/fedsign/fl).
#include <spdlog/spdlog.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "commands.h"
#include "data_options.h"
#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/data/split.h"
#include "fedsign/fl/attack/data_poisoning.h"
#include "fedsign/fl/run/central_evaluator.h"
#include "fedsign/fl/run/root_update.h"
#include "fedsign/fl/sim/simulation.h"
#include "fedsign/models/registry.h"
#include "fedsign/net/dashboard.h"
#include "fedsign/net/server_setup.h"
#include "fedsign/net/status_http.h"
#include "fedsign/report/run_charts.h"
#include "fedsign/train/model_bundle.h"
#include "fl_options.h"
#include "fl_report.h"
#include "net_hardening_options.h"
#include "privacy_options.h"
#include "robust_options.h"
#include "train_options.h"

namespace fedsign::cli {

namespace {

struct SimulateCommand {
  DataOptions data;
  TrainOptions train;
  PartitionOptions partition;
  FederationOptions federation;
  std::string bn = "aggregate";
  double dropout_prob = 0, straggler_prob = 0, straggler_min_fraction = 0.5;
  int parallel_clients = 1;
  fl::attack::AttackOptions attack;
  fl::compress::CompressOptions compress;
  std::string status_address, status_token_file;
  bool status_remote = false;
};

struct PartitionCommand {
  DataOptions data;
  PartitionOptions partition;
  std::string out = "runs/partition";
};

struct CompareCommand {
  std::vector<std::string> runs;
  std::string out = "compare.png";
  std::string metric = "central_accuracy";
  std::vector<std::string> names;
  double from = 0;
};

std::string percent(double v) {
  return std::isfinite(v) ? fmt::format("{:6.2f}%", 100 * v) : std::string("     - ");
}

void print_round(const fl::RoundMetrics& m, int64_t rounds) {
  std::printf("round %4lld/%lld  central acc %s loss %s  federated acc %s  train loss %.4f  "
              "%6.2fs (eval %.2fs, overhead %.1f%%)%s%s\n",
              static_cast<long long>(m.round), static_cast<long long>(rounds),
              percent(m.central_accuracy).c_str(),
              std::isfinite(m.central_loss) ? fmt::format("{:.4f}", m.central_loss).c_str() : "  -   ",
              percent(m.federated_accuracy).c_str(), m.train_loss, m.seconds, m.eval_seconds,
              m.overhead_pct,
              m.failures ? fmt::format("  {} of {} clients failed", m.failures, m.clients_sampled).c_str()
                         : "",
              std::isfinite(m.dp_epsilon) ? fmt::format("  DP epsilon {:.4g}", m.dp_epsilon).c_str()
                                          : "");
  std::fflush(stdout);
}

// Central evaluation; under a backdoor attack also its success rate (metrics.csv column
// backdoor_asr): accuracy on the validation images of the other classes, trigger stamped,
// labelled with the target class.
// --eval-precision int8 scores both in int8, each calibrated on the same training images.
fl::CentralEvaluateFn central_evaluation(const data::ImageSet& set, const data::TrackSplit& split,
                                         const train::TrainConfig& config,
                                         const fl::FederationConfig& federation,
                                         const fl::attack::AttackOptions& attack) {
  std::optional<fl::Int8Calibration> int8;
  if (federation.eval_precision == "int8") int8 = fl::int8_eval_calibration(set, split.train, config);
  fl::CentralEvaluateFn clean = fl::make_central_evaluator(set, split.validation, config, 43, int8);
  if (attack.kind != "backdoor") return clean;
  auto triggered = std::make_shared<const data::ImageSet>(fl::attack::triggered_evaluation_set(
      set, split.validation, fl::attack::backdoor_trigger(attack)));
  fl::CentralEvaluateFn on_triggered =
      fl::make_central_evaluator(*triggered, data::all_indices(*triggered), config, 43, int8);
  return [clean, on_triggered, triggered](int64_t round, const fl::Weights& global) {
    std::optional<fl::EvaluateSummary> summary = clean(round, global);
    const std::optional<fl::EvaluateSummary> attacked = on_triggered(round, global);
    if (summary && attacked) summary->metrics["backdoor_asr"] = attacked->metrics.at("accuracy");
    return summary;
  };
}

void write_attackers(const std::filesystem::path& run_dir, const fl::attack::AttackOptions& attack,
                     int64_t clients, const std::set<fl::ClientId>& attackers) {
  const nlohmann::json j = {{"attack", attack.kind},
                            {"fraction", attack.fraction},
                            {"clients", clients},
                            {"attackers", std::vector<fl::ClientId>(attackers.begin(), attackers.end())}};
  write_text_atomically(run_dir / "attackers.json", j.dump(2) + "\n");
}

void run_simulate(const CLI::App& command, SimulateCommand& o) {
  fl::FederationConfig& federation = o.federation.config;
  federation.seed = o.train.config.seed;
  train::TrainConfig config = resolve(o.train, o.data);
  config.optimizer.lr = federation.lr;  // the local rate of round 1 (fit instructions carry it)
  config.schedule.min_lr = federation.min_lr;
  FEDSIGN_CHECK(federation.min_available_clients <= o.partition.clients,
                "--min-available-clients {} exceeds --clients {}: a simulated round would never "
                "start", federation.min_available_clients, o.partition.clients);
  federation.num_clients = o.partition.clients;  // DP's sampling rate: all clients are available
  // Refuse DP options that cannot work before the data is loaded (the strategy is built later,
  // with the central evaluator, and checks them again).
  if (federation.dp_mode != "off") fl::federation_dp_options(federation);
  fl::check_robust_round(federation.robust,
                         fl::federation_clients_per_round(federation, o.partition.clients));
  fl::attack::validate(o.attack);
  fl::compress::validate(o.compress);
  net::check_status_address(o.status_address, o.status_remote);
  o.attack.seed = config.seed;
  data::ImageSet set = load_dataset(o.data);
  const data::TrackSplit split = split_dataset(set, o.data);
  const std::filesystem::path run_dir = o.federation.out;
  std::filesystem::create_directories(run_dir);
  if (!o.federation.resume) {
    write_text_atomically(run_dir / "config.toml", command.config_to_str(true, false));
  }

  const auto parts = data::partition(set, split.train, to_partition_config(o.partition));
  const data::PartitionStats stats = report_partition(set, parts, o.partition, run_dir, false);
  std::vector<fl::ClientData> clients;
  int64_t client_train = 0, client_test = 0, client_renders = 0;
  for (std::size_t j = 0; j < parts.size(); ++j) {
    clients.push_back(client_data(set, parts[j], o.partition, static_cast<int64_t>(j)));
    client_train += static_cast<int64_t>(clients.back().train.size());
    client_test += static_cast<int64_t>(clients.back().test.size());
  }
  // After every client's split: the renders only ever join a client's training data.
  for (std::size_t j = 0; j < clients.size(); ++j) {
    client_renders += add_client_renders(set, clients[j], o.partition, o.data, static_cast<int64_t>(j));
  }
  if (client_renders > 0) {
    spdlog::info("clients added {} pictogram renders to their {} real training images",
                 client_renders, client_train);
  }

  // The server's root set, if a rule needs it: a seeded sample of the training split, as in the
  // FLTrust paper (the validation split stays unseen).
  fl::robust::ServerRoot root = fl::make_server_root(federation.robust, set, split.train, config);
  if (!federation.init_weights.empty() ||
      federation.trainable_groups != std::vector<std::string>{"all"}) {
    // A scratch model of the run's architecture to load the file into and check the groups
    // against (the strategy is built before the simulation and its workers' models).
    models::ModelOptions model_options;
    model_options.num_classes = 43;
    model_options.input_size = set.height;
    model_options.dropout = config.dropout;
    fl::resolve_model_settings(federation, *models::create_model(config.model, model_options));
  }
  auto strategy = fl::make_federation_strategy(
      federation, central_evaluation(set, split, config, federation, o.attack), std::move(root));
  if (federation.strategy == "scaffold" &&
      (config.optimizer.name != "sgd" || config.optimizer.momentum != 0)) {
    spdlog::warn("SCAFFOLD's control variates assume plain SGD locally (--optimizer sgd "
                 "--momentum 0); running with {}", config.optimizer.name);
  }

  fl::SimulationConfig sim;
  sim.run = run_config(command, o.federation,
                       fmt::format("{}, {}", strategy->name(), partition_title(o.partition)));
  sim.seed = config.seed;
  sim.local = config;
  sim.bn = fl::parse_bn_mode(o.bn);
  sim.dropout_prob = o.dropout_prob;
  sim.straggler_prob = o.straggler_prob;
  sim.straggler_min_fraction = o.straggler_min_fraction;
  sim.attack = o.attack;
  sim.compress = o.compress;
  sim.parallel_clients = o.parallel_clients;
  fl::Simulation simulation(set, std::move(clients), *strategy, sim);
  std::string attack_summary = "none";
  if (o.attack.kind != "none") {
    write_attackers(run_dir, o.attack, o.partition.clients, simulation.attackers());
    attack_summary = fmt::format("{}: {} of {} clients (attackers.json)", o.attack.kind,
                                 simulation.attackers().size(), o.partition.clients);
    spdlog::info("attack {}", attack_summary);
  }
  train::save_model_info(run_dir / "model.json", {config.model, 43, set.height, o.data.contrast});
  spdlog::info("{}: {} clients, {} rounds, model {}, {} central validation images", strategy->name(),
               o.partition.clients, federation.rounds, config.model, split.validation.size());

  // The live dashboard (--status-address): the board is what its page polls.
  net::RunBoard board;
  const nlohmann::json board_base = {{"kind", "simulation"},
                                     {"rounds", federation.rounds},
                                     {"strategy", strategy->name()},
                                     {"model", config.model},
                                     {"clients", o.partition.clients}};
  const auto dashboard = net::start_status_endpoint(
      o.status_address, o.status_remote, o.status_token_file,
      [&board, &board_base] { return board.status(board_base).dump(); });
  board.set_phase(0, "training");
  const fl::SimulationResult result = simulation.run([&](const fl::RoundMetrics& m) {
    print_round(m, federation.rounds);
    board.add_round(m);
    board.set_phase(m.round, m.round < federation.rounds ? "training" : "done");
  });
  simulation.save_global_model(run_dir / "model.pt");
  write_summary(run_dir,
                {o.federation, o.partition, o.bn, config, stats,
                 static_cast<int64_t>(split.validation.size()), client_train, client_test,
                 client_renders, attack_summary, o.compress.codec},
                *strategy, result);
  if (!result.history.empty()) {
    const auto& last = result.history.back();
    const std::string privacy = privacy_spent(*strategy);
    std::printf("final central accuracy %s, federated %s after %lld rounds%s; run in %s\n",
                percent(last.central_accuracy).c_str(), percent(last.federated_accuracy).c_str(),
                static_cast<long long>(last.round), privacy.empty() ? "" : ("; " + privacy).c_str(),
                run_dir.c_str());
    if (auto asr = last.columns.find("backdoor_asr"); asr != last.columns.end()) {
      std::printf("backdoor attack success rate %s\n", percent(asr->second).c_str());
    }
  }
  // The final global model meets the test split once (--test-fraction); no round saw it.
  report_test_split(run_dir, set, split.test, config.precision, config.eval_batch_size);
}

void run_partition(const PartitionCommand& o) {
  data::ImageSet set = load_dataset(o.data);
  const data::TrackSplit split = data::split_by_track(set, o.data.val_fraction, o.data.split_seed);
  const auto parts = data::partition(set, split.train, to_partition_config(o.partition));
  report_partition(set, parts, o.partition, o.out, true);
  std::printf("wrote %s/partition.png and partition.csv\n", o.out.c_str());
}

void run_compare(const CompareCommand& o) {
  std::vector<std::filesystem::path> runs(o.runs.begin(), o.runs.end());
  report::save_comparison_plot(o.out, runs, o.metric, o.names, o.from);
  for (const auto& run : runs) {
    const report::RunSeries s = report::read_run_series(run, o.metric);
    if (s.y.empty()) continue;
    std::printf("%-40s last %s %.4f (%s %g), best %.4f\n", run.c_str(), o.metric.c_str(),
                s.y.back(), s.x_label.c_str(), s.x.back(), *std::max_element(s.y.begin(), s.y.end()));
  }
  std::printf("wrote %s\n", o.out.c_str());
}

void add_simulation_options(CLI::App& cmd, SimulateCommand& o) {
  const char* group = "Simulation";
  cmd.add_option("--bn", o.bn, "BatchNorm: aggregate, or local (FedBN: BN layers stay on "
                 "the clients)")
      ->check(CLI::IsMember({"aggregate", "local"}))
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--parallel-clients", o.parallel_clients,
                 "clients trained at once, each on its own thread with one intra-op thread (the "
                 "models of a --threads 1 run; evaluation keeps --threads)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--dropout-prob", o.dropout_prob,
                 "probability that a sampled client drops out of a round")
      ->check(CLI::Range(0.0, 0.99))
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--straggler-prob", o.straggler_prob,
                 "probability that a client finishes only part of its local work")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--straggler-min-fraction", o.straggler_min_fraction,
                 "a straggler does a fraction U(this, 1) of its steps")
      ->check(CLI::Range(0.01, 1.0))
      ->capture_default_str()
      ->group(group);
}

}  // namespace

CLI::App* fl_group(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App* a) { return a->get_name() == "fl"; })) {
    return sub;
  }
  CLI::App* group = add_command(app, "fl", "Federated learning");
  group->require_subcommand(1);
  return group;
}

void add_fl_commands(CLI::App& app, Actions& actions) {
  CLI::App* group = fl_group(app);

  auto sim = std::make_shared<SimulateCommand>();
  CLI::App* cmd = add_command(*group, "simulate",
                              "Simulate federated training: N clients on this machine");
  add_data_options(*cmd, sim->data);
  add_test_split_option(*cmd, sim->data);
  add_model_options(*cmd, sim->train);
  add_local_training_options(*cmd, sim->train);
  add_seed_option(*cmd, sim->train.config.seed,
                  "seed for the initial model, client sampling, faults and local shuffling");
  add_partition_options(*cmd, sim->partition);
  add_federation_options(*cmd, sim->federation);
  add_privacy_options(*cmd, sim->federation.config);
  add_robust_options(*cmd, sim->federation.config.robust);
  add_simulation_options(*cmd, *sim);
  add_attack_options(*cmd, sim->attack);
  add_compress_options(*cmd, sim->compress);
  add_status_options(*cmd, sim->status_address, sim->status_remote, sim->status_token_file);
  actions[cmd] = [cmd, sim] { run_simulate(*cmd, *sim); };

  auto part = std::make_shared<PartitionCommand>();
  CLI::App* pcmd = add_command(*group, "partition",
                               "Show how the training split would be divided among clients");
  add_data_options(*pcmd, part->data);
  add_partition_options(*pcmd, part->partition);
  pcmd->add_option("--out", part->out, "folder for partition.png and partition.csv")
      ->capture_default_str();
  actions[pcmd] = [part] { run_partition(*part); };

  auto cmp = std::make_shared<CompareCommand>();
  CLI::App* ccmd = add_command(*group, "compare",
                               "Overlay several runs' metrics on one chart (fl or train runs)");
  ccmd->add_option("runs", cmp->runs, "run directories (or metrics.csv files)")->required();
  ccmd->add_option("--out", cmp->out, "chart file (.png)")->capture_default_str();
  ccmd->add_option("--metric", cmp->metric, "metrics.csv column, e.g. central_accuracy, "
                   "central_loss, federated_accuracy, train_loss")
      ->capture_default_str();
  ccmd->add_option("--names", cmp->names, "legend names, one per run");
  ccmd->add_option("--from", cmp->from, "draw from this round (or epoch) on: zooms into the end")
      ->capture_default_str();
  actions[ccmd] = [cmp] { run_compare(*cmp); };
}

}  // namespace fedsign::cli
