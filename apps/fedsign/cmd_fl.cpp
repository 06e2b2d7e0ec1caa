// `fedsign fl simulate | partition | compare`: federated learning simulated on one machine.
// The options are declared once here (data and training options are shared with `train`);
// the work is done by the fl library (src/fedsign/fl).
#include <spdlog/spdlog.h>

#include <cmath>
#include <set>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "data_options.h"
#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/fl/partition.h"
#include "fedsign/fl/rng.h"
#include "fedsign/fl/simulation.h"
#include "fedsign/fl/strategy.h"
#include "fedsign/report/csv.h"
#include "fedsign/train/model_bundle.h"
#include "train_options.h"

namespace fedsign::cli {

namespace {

struct PartitionOptions {
  int64_t clients = 10;
  std::string kind = "iid";
  double alpha = 0.5;
  int64_t shards_per_client = 2;
  std::string quantity_sizes = "lognormal";
  double sigma = 1.0;
  uint64_t seed = 1;
  double client_test_fraction = 0.1;
};

struct FlCommand {
  DataOptions data;
  TrainOptions train;
  PartitionOptions partition;
  std::string strategy = "fedavg";
  int64_t rounds = 20;
  int64_t clients_per_round = 0;
  double fraction_fit = 1.0;
  int64_t min_clients = 1;
  int64_t evaluate_clients = 0;
  double fraction_evaluate = 1.0;
  int64_t local_epochs = 1;
  int64_t local_steps = 0;
  std::string round_schedule = "exponential";
  double lr_decay = 1.0;
  double proximal_mu = 0.01;
  double server_lr = -1;  // < 0: the algorithm's default
  double server_momentum = 0.9;
  double beta1 = 0.9, beta2 = 0.99, tau = 1e-3;
  std::string bn = "aggregate";
  int64_t eval_every = 1;
  double dropout_prob = 0, straggler_prob = 0, straggler_min_fraction = 0.5;
  std::string out = "runs/fl";
  std::string name;
  bool resume = false;
};

struct CompareCommand {
  std::vector<std::string> runs;
  std::string out = "compare.png";
  std::string metric = "central_accuracy";
  std::vector<std::string> names;
  double from = 0;
};

void add_partition_options(CLI::App& cmd, PartitionOptions& o) {
  cmd.add_option("--clients", o.clients, "number of simulated clients")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--partition", o.kind, "iid, dirichlet (label skew), shards (k classes per "
                 "client) or quantity (size skew); whole tracks per client")
      ->check(CLI::IsMember({"iid", "dirichlet", "shards", "quantity"}))
      ->capture_default_str();
  cmd.add_option("--alpha", o.alpha, "Dirichlet concentration (smaller: more skew)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--shards-per-client", o.shards_per_client, "shards: classes per client")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd.add_option("--quantity-sizes", o.quantity_sizes, "quantity: lognormal (--sigma) or "
                 "dirichlet (--alpha) client sizes")
      ->check(CLI::IsMember({"lognormal", "dirichlet"}))
      ->capture_default_str();
  cmd.add_option("--sigma", o.sigma, "quantity: log-normal sigma of client sizes")
      ->capture_default_str();
  cmd.add_option("--partition-seed", o.seed, "seed of the partition")->capture_default_str();
  cmd.add_option("--client-test-fraction", o.client_test_fraction,
                 "share of each client's images (whole tracks) kept for federated evaluation")
      ->check(CLI::Range(0.0, 0.9))
      ->capture_default_str();
}

fl::PartitionConfig to_partition_config(const PartitionOptions& o) {
  fl::PartitionConfig p;
  p.kind = fl::parse_partition_kind(o.kind);
  p.num_clients = o.clients;
  p.alpha = o.alpha;
  p.shards_per_client = o.shards_per_client;
  p.quantity_sizes = o.quantity_sizes;
  p.sigma = o.sigma;
  p.seed = o.seed;
  return p;
}

std::string partition_title(const PartitionOptions& o) {
  switch (fl::parse_partition_kind(o.kind)) {
    case fl::PartitionKind::kIid: return fmt::format("IID, {} clients", o.clients);
    case fl::PartitionKind::kDirichlet:
      return fmt::format("Dirichlet alpha={}, {} clients", o.alpha, o.clients);
    case fl::PartitionKind::kShards:
      return fmt::format("shards, {} classes per client, {} clients", o.shards_per_client, o.clients);
    case fl::PartitionKind::kQuantity:
      return fmt::format("quantity skew ({}), {} clients", o.quantity_sizes, o.clients);
  }
  return o.kind;
}

// Prints the partition; with `out` non-empty also writes partition.png and partition.csv there.
fl::PartitionStats report_partition(const data::ImageSet& set,
                                    const std::vector<data::Indices>& parts,
                                    const PartitionOptions& o, const std::filesystem::path& out,
                                    bool table) {
  fl::PartitionStats stats = fl::partition_stats(set, parts);
  std::printf("partition: %s\n%s\n", partition_title(o).c_str(), fl::describe(stats).c_str());
  if (table) {
    std::printf("%7s %7s %7s %8s %10s\n", "client", "images", "tracks", "classes", "top class");
    const std::size_t shown = parts.size() <= 50 ? parts.size() : 20;
    for (std::size_t j = 0; j < shown; ++j) {
      const auto& counts = stats.counts[j];
      const auto top = std::max_element(counts.begin(), counts.end()) - counts.begin();
      std::printf("%7zu %7lld %7lld %8d %4lld (%2.0f%%)\n", j,
                  static_cast<long long>(stats.images[j]), static_cast<long long>(stats.tracks[j]),
                  stats.classes[j], static_cast<long long>(top), 100 * stats.max_share[j]);
    }
    if (shown < parts.size()) std::printf("    ... %zu more clients\n", parts.size() - shown);
  }
  if (!out.empty()) {
    std::filesystem::create_directories(out);
    fl::save_partition_heatmap(out / "partition.png", stats,
                               "Images per client and class: " + partition_title(o));
    std::vector<std::string> header = {"client", "images", "tracks", "classes"};
    for (int c = 0; c < stats.num_classes; ++c) header.push_back("class_" + std::to_string(c));
    report::CsvTable csv(header);
    for (std::size_t j = 0; j < parts.size(); ++j) {
      std::vector<std::string> row = {std::to_string(j), std::to_string(stats.images[j]),
                                      std::to_string(stats.tracks[j]),
                                      std::to_string(stats.classes[j])};
      for (int64_t n : stats.counts[j]) row.push_back(std::to_string(n));
      csv.add_row(row);
    }
    csv.save(out / "partition.csv");
  }
  return stats;
}

// Every option that shapes the run, for the resume check: all but where/how long/how loud.
std::string settings_json(const CLI::App& command) {
  static const std::set<std::string> ignored = {
      "rounds", "resume", "out", "name", "config", "log-level", "threads", "help", "cache-dir",
      "no-cache", "eval-every", "on-bad-image", "eval-batch-size"};
  nlohmann::json settings = nlohmann::json::object();
  for (const CLI::Option* opt : command.get_options()) {
    const std::string name = opt->get_single_name();
    if (name.empty() || ignored.count(name)) continue;
    std::string value;
    for (const auto& r : opt->results()) value += (value.empty() ? "" : ",") + r;
    if (opt->results().empty()) value = opt->get_default_str();
    settings[name] = value;
  }
  return settings.dump();
}

std::string percent(double v) {
  return std::isfinite(v) ? fmt::format("{:6.2f}%", 100 * v) : std::string("     - ");
}

void write_summary(const std::filesystem::path& dir, const FlCommand& o, const fl::Strategy& strategy,
                   const fl::PartitionStats& stats, const fl::SimulationResult& result,
                   const train::TrainConfig& config) {
  double best = NAN, total = 0, train = 0, overhead = 0;
  int64_t best_round = 0;
  const fl::RoundMetrics* last_eval = nullptr;
  for (const auto& m : result.history) {
    total += m.seconds;
    train += m.train_seconds;
    overhead += m.overhead_seconds;
    if (std::isfinite(m.central_accuracy)) {
      last_eval = &m;
      if (!(m.central_accuracy <= best)) best = m.central_accuracy, best_round = m.round;
    }
  }
  std::string text = fmt::format(
      "# Federated run: {}\n\n| | |\n|---|---|\n"
      "| strategy | {} |\n| model | {} (local: {} lr {}, batch {}, {}) |\n"
      "| clients | {} ({}), {} per round |\n| partition | {} |\n"
      "| rounds | {} |\n| BatchNorm | {} |\n",
      o.name.empty() ? dir.filename().string() : o.name, strategy.name(), config.model,
      config.optimizer.name, config.optimizer.lr, config.batch_size,
      o.local_steps > 0 ? fmt::format("{} steps", o.local_steps)
                        : fmt::format("{} epochs", o.local_epochs),
      o.partition.clients, partition_title(o.partition),
      o.clients_per_round > 0 ? std::to_string(o.clients_per_round)
                              : fmt::format("fraction {}", o.fraction_fit),
      fl::describe(stats), o.rounds, o.bn);
  if (last_eval) {
    text += fmt::format(
        "| final central accuracy | {:.2f}% (round {}) |\n| best central accuracy | {:.2f}% "
        "(round {}) |\n| final federated accuracy | {} |\n",
        100 * last_eval->central_accuracy, last_eval->round, 100 * best, best_round,
        percent(last_eval->federated_accuracy));
  }
  text += fmt::format(
      "| time | {:.1f} s ({:.1f} s local training, {:.1f}% simulation overhead) |\n"
      "| client states | {} clients, {:.1f} MB (in client_states/) |\n\nFiles: metrics.csv, accuracy.png, loss.png, partition.png, "
      "model.pt + model.json (final global model: `fedsign evaluate {}`), server.ckpt "
      "(`--resume`).\n",
      total, train, total > 0 ? 100 * overhead / total : 0.0, result.client_states,
      static_cast<double>(result.client_state_bytes) / 1e6, dir.string());
  write_text_atomically(dir / "summary.md", text);
}

void run_simulate(const CLI::App& command, const FlCommand& o) {
  train::TrainConfig config = resolve(o.train, o.data);
  data::ImageSet set = load_dataset(o.data);
  const data::TrackSplit split = data::split_by_track(set, o.data.val_fraction, o.data.split_seed);
  const std::filesystem::path run_dir = o.out;
  std::filesystem::create_directories(run_dir);
  if (!o.resume) write_text_atomically(run_dir / "config.toml", command.config_to_str(true, false));

  const auto parts = fl::partition(set, split.train, to_partition_config(o.partition));
  const fl::PartitionStats stats = report_partition(set, parts, o.partition, run_dir, false);
  std::vector<fl::ClientData> clients;
  for (std::size_t j = 0; j < parts.size(); ++j) {
    fl::ClientSplit s = fl::split_client_data(set, parts[j], o.partition.client_test_fraction,
                                              fl::derive_seed(o.partition.seed, {j}));
    clients.push_back({std::move(s.train), std::move(s.test)});
  }

  fl::StrategyOptions options;
  options.fraction_fit = o.fraction_fit;
  options.clients_per_round = o.clients_per_round;
  options.min_fit_clients = o.min_clients;
  options.fraction_evaluate = o.fraction_evaluate;
  options.evaluate_clients_per_round = o.evaluate_clients;
  options.seed = config.seed;
  options.fit_config[fl::keys::kLocalEpochs] = o.local_epochs;
  options.fit_config[fl::keys::kLocalSteps] = o.local_steps;
  options.fit_config[fl::keys::kLr] = config.optimizer.lr;
  options.lr_schedule = o.round_schedule;
  options.lr_decay = o.lr_decay;
  options.min_lr = config.schedule.min_lr;
  options.total_rounds = o.rounds;
  options.evaluate_fn = fl::make_central_evaluator(set, split.validation, config);
  std::map<std::string, double> params = {{"proximal_mu", o.proximal_mu},
                                          {"server_momentum", o.server_momentum},
                                          {"beta1", o.beta1},
                                          {"beta2", o.beta2},
                                          {"tau", o.tau}};
  if (o.server_lr > 0) params["server_lr"] = o.server_lr;
  auto strategy = fl::make_strategy(o.strategy, options, params);
  if (o.strategy == "scaffold" && (config.optimizer.name != "sgd" || config.optimizer.momentum != 0)) {
    spdlog::warn("SCAFFOLD's control variates assume plain SGD locally (--optimizer sgd "
                 "--momentum 0); running with {}", config.optimizer.name);
  }

  fl::SimulationConfig sim;
  sim.rounds = o.rounds;
  sim.eval_every = o.eval_every;
  sim.seed = config.seed;
  sim.local = config;
  sim.bn = fl::parse_bn_mode(o.bn);
  sim.dropout_prob = o.dropout_prob;
  sim.straggler_prob = o.straggler_prob;
  sim.straggler_min_fraction = o.straggler_min_fraction;
  sim.run_dir = run_dir;
  sim.resume = o.resume;
  sim.title = o.name.empty() ? fmt::format("{}, {}", strategy->name(), partition_title(o.partition))
                             : o.name;
  sim.settings_json = settings_json(command);
  fl::Simulation simulation(set, std::move(clients), *strategy, sim);
  train::save_model_info(run_dir / "model.json", {config.model, 43, set.height, o.data.contrast});
  spdlog::info("{}: {} clients, {} rounds, model {}, {} central validation images", strategy->name(),
               o.partition.clients, o.rounds, config.model, split.validation.size());

  const fl::SimulationResult result = simulation.run([&](const fl::RoundMetrics& m) {
    std::printf("round %4lld/%lld  central acc %s loss %s  federated acc %s  train loss %.4f  "
                "%6.2fs (overhead %.1f%%)%s\n",
                static_cast<long long>(m.round), static_cast<long long>(o.rounds),
                percent(m.central_accuracy).c_str(),
                std::isfinite(m.central_loss) ? fmt::format("{:.4f}", m.central_loss).c_str() : "  -   ",
                percent(m.federated_accuracy).c_str(), m.train_loss, m.seconds, m.overhead_pct,
                m.failures ? fmt::format("  {} of {} clients failed", m.failures, m.clients_sampled).c_str()
                           : "");
    std::fflush(stdout);
  });
  simulation.save_global_model(run_dir / "model.pt");
  write_summary(run_dir, o, *strategy, stats, result, config);
  if (!result.history.empty()) {
    const auto& last = result.history.back();
    std::printf("final central accuracy %s, federated %s after %lld rounds; run in %s\n",
                percent(last.central_accuracy).c_str(), percent(last.federated_accuracy).c_str(),
                static_cast<long long>(last.round), run_dir.c_str());
  }
}

void run_partition(const FlCommand& o) {
  data::ImageSet set = load_dataset(o.data);
  const data::TrackSplit split = data::split_by_track(set, o.data.val_fraction, o.data.split_seed);
  const auto parts = fl::partition(set, split.train, to_partition_config(o.partition));
  report_partition(set, parts, o.partition, o.out, true);
  std::printf("wrote %s/partition.png and partition.csv\n", o.out.c_str());
}

void run_compare(const CompareCommand& o) {
  std::vector<std::filesystem::path> runs(o.runs.begin(), o.runs.end());
  fl::save_comparison_plot(o.out, runs, o.metric, o.names, o.from);
  for (const auto& run : runs) {
    const fl::RunSeries s = fl::read_run_series(run, o.metric);
    if (s.y.empty()) continue;
    std::printf("%-40s last %s %.4f (%s %g), best %.4f\n", run.c_str(), o.metric.c_str(),
                s.y.back(), s.x_label.c_str(), s.x.back(), *std::max_element(s.y.begin(), s.y.end()));
  }
  std::printf("wrote %s\n", o.out.c_str());
}

CLI::App* fl_group(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App* a) { return a->get_name() == "fl"; })) {
    return sub;
  }
  CLI::App* group = add_command(app, "fl", "Federated learning");
  group->require_subcommand(1);
  return group;
}

}  // namespace

void add_fl_commands(CLI::App& app, Actions& actions) {
  CLI::App* group = fl_group(app);

  auto sim = std::make_shared<FlCommand>();
  CLI::App* cmd = add_command(*group, "simulate",
                              "Simulate federated training: N clients on this machine");
  add_data_options(*cmd, sim->data);
  add_train_options(*cmd, sim->train);
  add_partition_options(*cmd, sim->partition);
  cmd->add_option("--strategy", sim->strategy, "aggregation strategy")
      ->check(CLI::IsMember(fl::strategy_names()))
      ->capture_default_str();
  cmd->add_option("--rounds", sim->rounds, "federated rounds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--clients-per-round", sim->clients_per_round,
                  "clients sampled per round (0: use --fraction-fit)")
      ->capture_default_str();
  cmd->add_option("--fraction-fit", sim->fraction_fit, "share of clients sampled per round")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--min-clients", sim->min_clients, "never sample fewer clients per round")
      ->capture_default_str();
  cmd->add_option("--evaluate-clients", sim->evaluate_clients,
                  "clients in federated evaluation (0: as many as train)")
      ->capture_default_str();
  cmd->add_option("--fraction-evaluate", sim->fraction_evaluate,
                  "share of clients in federated evaluation (1: as many as train, 0: off)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--local-epochs", sim->local_epochs, "local epochs per round")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--local-steps", sim->local_steps, "local optimizer steps (> 0: instead of epochs)")
      ->capture_default_str();
  cmd->add_option("--round-schedule", sim->round_schedule,
                  "local learning rate across rounds: exponential (--lr-decay) or cosine "
                  "(--lr down to --min-lr over --rounds)")
      ->check(CLI::IsMember({"exponential", "cosine"}))
      ->capture_default_str();
  cmd->add_option("--lr-decay", sim->lr_decay, "local learning rate *= this every round")
      ->capture_default_str();
  cmd->add_option("--proximal-mu", sim->proximal_mu, "FedProx: proximal term mu")
      ->capture_default_str();
  cmd->add_option("--server-lr", sim->server_lr,
                  "server learning rate (FedAvgM, FedOpt, SCAFFOLD; < 0: algorithm default)")
      ->capture_default_str();
  cmd->add_option("--server-momentum", sim->server_momentum, "FedAvgM: server momentum")
      ->capture_default_str();
  cmd->add_option("--beta1", sim->beta1, "FedOpt: first-moment decay")->capture_default_str();
  cmd->add_option("--beta2", sim->beta2, "FedAdam/FedYogi: second-moment decay")
      ->capture_default_str();
  cmd->add_option("--tau", sim->tau, "FedOpt: adaptivity (epsilon)")->capture_default_str();
  cmd->add_option("--bn", sim->bn, "BatchNorm: aggregate, or local (FedBN: BN layers stay on "
                  "the clients)")
      ->check(CLI::IsMember({"aggregate", "local"}))
      ->capture_default_str();
  cmd->add_option("--eval-every", sim->eval_every, "evaluate every k rounds (and after the last)")
      ->capture_default_str();
  cmd->add_option("--dropout-prob", sim->dropout_prob,
                  "probability that a sampled client drops out of a round")
      ->check(CLI::Range(0.0, 0.99))
      ->capture_default_str();
  cmd->add_option("--straggler-prob", sim->straggler_prob,
                  "probability that a client finishes only part of its local work")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--straggler-min-fraction", sim->straggler_min_fraction,
                  "a straggler does a fraction U(this, 1) of its steps")
      ->check(CLI::Range(0.01, 1.0))
      ->capture_default_str();
  cmd->add_option("--out", sim->out, "run directory")->capture_default_str();
  cmd->add_option("--name", sim->name, "run name for charts (default: strategy and partition)");
  cmd->add_flag("--resume", sim->resume, "continue from OUT/server.ckpt");
  actions[cmd] = [cmd, sim] { run_simulate(*cmd, *sim); };

  auto part = std::make_shared<FlCommand>();
  part->out = "runs/partition";
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
