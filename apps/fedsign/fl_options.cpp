#include "fl_options.h"

#include <fmt/format.h>

#include <unistd.h>

#include <filesystem>

#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "fedsign/core/check.h"
#include "fedsign/data/split.h"
#include "fedsign/experiments/renders.h"
#include "fedsign/fl/rng.h"
#include "fedsign/fl/strategy/strategy.h"

namespace fedsign::cli {

void add_partition_options(CLI::App& cmd, PartitionOptions& o, bool with_index) {
  const char* group = "Partition";
  cmd.add_option("--clients", o.clients, "number of clients the training split is divided among")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--partition", o.kind, "iid, dirichlet (label skew), shards (k classes per "
                 "client), quantity (size skew) or tracks (equal track counts: with as many "
                 "clients as tracks, one each); whole tracks per client")
      ->check(CLI::IsMember({"iid", "dirichlet", "shards", "quantity", "tracks"}))
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--alpha", o.alpha, "Dirichlet concentration (smaller: more skew)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--shards-per-client", o.shards_per_client, "shards: classes per client")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--quantity-sizes", o.quantity_sizes, "quantity: lognormal (--sigma) or "
                 "dirichlet (--alpha) client sizes")
      ->check(CLI::IsMember({"lognormal", "dirichlet"}))
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--sigma", o.sigma, "quantity: log-normal sigma of client sizes")
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--partition-seed", o.seed, "seed of the partition")->capture_default_str()->group(group);
  cmd.add_option("--client-test-fraction", o.client_test_fraction,
                 "share of each client's images (whole tracks) kept for federated evaluation")
      ->check(CLI::Range(0.0, 0.9))
      ->capture_default_str()
      ->group(group);
  cmd.add_option("--client-renders", o.client_renders,
                 "renders per class of the sign pictograms (Meta/ of --data) that each client adds "
                 "to its local training data: public images, seeded per client (0: none)")
      ->check(CLI::Range(0, 2000))
      ->capture_default_str()
      ->group(group);
  if (with_index) {
    cmd.add_option("--partition-index", o.index, "this client's share: 0 .. --clients - 1")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str()
        ->group(group);
  }
}

data::PartitionConfig to_partition_config(const PartitionOptions& o) {
  data::PartitionConfig p;
  p.kind = data::parse_partition_kind(o.kind);
  p.num_clients = o.clients;
  p.alpha = o.alpha;
  p.shards_per_client = o.shards_per_client;
  p.quantity_sizes = o.quantity_sizes;
  p.sigma = o.sigma;
  p.seed = o.seed;
  return p;
}

std::string partition_title(const PartitionOptions& o) {
  switch (data::parse_partition_kind(o.kind)) {
    case data::PartitionKind::kIid: return fmt::format("IID, {} clients", o.clients);
    case data::PartitionKind::kDirichlet:
      return fmt::format("Dirichlet alpha={}, {} clients", o.alpha, o.clients);
    case data::PartitionKind::kShards:
      return fmt::format("shards, {} classes per client, {} clients", o.shards_per_client, o.clients);
    case data::PartitionKind::kQuantity:
      return fmt::format("quantity skew ({}), {} clients", o.quantity_sizes, o.clients);
    case data::PartitionKind::kTracks: return fmt::format("tracks dealt round-robin, {} clients", o.clients);
  }
  return o.kind;
}

std::string partition_key(const PartitionOptions& o, double val_fraction, uint64_t split_seed,
                          double test_fraction) {
  std::string key = fmt::format("{} clients={} alpha={} shards={} sizes={} sigma={} seed={} "
                                "test-fraction={} val-fraction={} split-seed={}",
                                o.kind, o.clients, o.alpha, o.shards_per_client, o.quantity_sizes,
                                o.sigma, o.seed, o.client_test_fraction, val_fraction, split_seed);
  // Only when set, so that keys of clients without a test split are as before.
  if (test_fraction > 0) key += fmt::format(" split-test-fraction={}", test_fraction);
  return key;
}

fl::ClientData client_data(const data::ImageSet& set, const data::Indices& part,
                           const PartitionOptions& o, int64_t index) {
  data::ClientSplit s = data::split_client_data(
      set, part, o.client_test_fraction, fl::derive_seed(o.seed, {static_cast<uint64_t>(index)}));
  return {std::move(s.train), std::move(s.test)};
}

int64_t add_client_renders(data::ImageSet& set, fl::ClientData& client, const PartitionOptions& o,
                           const DataOptions& data_options, int64_t index) {
  if (o.client_renders <= 0) return 0;
  // Each client's renders get their own range of track ids above experiments::kRenderTrackOffset
  // (rendered track ids are class * 100000 + track, < 5e6), so no render shares a track with a
  // photo or with another client's renders.
  constexpr int64_t kRenderTrackStride = 10'000'000;
  const data::LoadOptions load = to_load_options(data_options);
  const uint64_t seed = fl::derive_seed(o.seed, {static_cast<uint64_t>(index), 0x72656e64});
  experiments::RenderRequest request;
  request.meta_dir = data_options.data_dir;
  request.per_class = static_cast<int>(o.client_renders);
  request.seed = seed;
  request.threads = data_options.threads;
  request.load = load;
  request.load.progress = false;
  for (int c = 0; c < data::kNumGtsrbClasses; ++c) request.classes.push_back(c);
  const std::filesystem::path folder =
      fmt::format("renders-{}x{}-seed{}-client{}", o.client_renders, data::kNumGtsrbClasses,
                  o.seed, index);
  const bool temporary = load.cache_dir.empty();
  request.out_dir = temporary ? std::filesystem::temp_directory_path() /
                                    fmt::format("fedsign-{}-{}", ::getpid(), folder.string())
                              : load.cache_dir / folder;
  const data::ImageSet renders = experiments::prepare_renders(request);
  if (temporary) std::filesystem::remove_all(request.out_dir);
  FEDSIGN_CHECK(set.size() == 0 || (renders.height == set.height && renders.width == set.width),
                "renders are {}x{}, the data {}x{}", renders.width, renders.height, set.width,
                set.height);
  const data::Indices added =
      data::append(set, renders, experiments::kRenderTrackOffset + index * kRenderTrackStride);
  client.train.insert(client.train.end(), added.begin(), added.end());
  return static_cast<int64_t>(added.size());
}

void add_federation_options(CLI::App& cmd, FederationOptions& options) {
  fl::FederationConfig& o = options.config;
  const char* strategy = "Strategy";
  cmd.add_option("--strategy", o.strategy, "aggregation strategy")
      ->check(CLI::IsMember(fl::strategy_names()))
      ->capture_default_str()
      ->group(strategy);
  cmd.add_option("--proximal-mu", o.proximal_mu, "FedProx only: proximal term mu")
      ->capture_default_str()
      ->group(strategy);
  cmd.add_option("--server-lr", o.server_lr,
                 "server learning rate (FedAvgM, FedOpt, SCAFFOLD; < 0: algorithm default)")
      ->capture_default_str()
      ->group(strategy);
  cmd.add_option("--server-momentum", o.server_momentum, "FedAvgM only: server momentum")
      ->capture_default_str()
      ->group(strategy);
  cmd.add_option("--beta1", o.beta1, "FedOpt only: first-moment decay")->capture_default_str()->group(strategy);
  cmd.add_option("--beta2", o.beta2, "FedAdam/FedYogi only: second-moment decay")
      ->capture_default_str()
      ->group(strategy);
  cmd.add_option("--tau", o.tau, "FedOpt only: adaptivity (epsilon)")->capture_default_str()->group(strategy);
  cmd.add_option("--init-weights", o.init_weights,
                 "start the global model from this weights file (e.g. a model trained on public "
                 "data; a head of another shape starts fresh)")
      // Empty is the default: a run's config.toml snapshot writes init-weights = "".
      ->check(CLI::Validator(
          [](const std::string& file) {
            return file.empty() || std::filesystem::is_regular_file(file)
                       ? std::string()
                       : "File does not exist: " + file;
          },
          "FILE"))
      ->group(strategy);
  cmd.add_option("--model-ema", o.model_ema,
                 "evaluate and save a moving average of the global models with this decay per "
                 "round (e.g. 0.9: about the last 10 rounds; clients still train from the latest "
                 "model; under DP it costs no privacy); 0: off")
      ->check(CLI::Range(0.0, 0.999))
      ->capture_default_str()
      ->group(strategy);
  cmd.add_flag("--mean-over-senders", o.mean_over_senders,
               "average each value over the clients whose update changed it, not over all "
               "(for --compress topk: a value one client sent moves the model by itself, not "
               "by 1/clients of itself); FedAvg, FedProx, FedAvgM, FedOpt")
      ->group(strategy);

  const char* rounds = "Rounds and sampling";
  cmd.add_option("--rounds", o.rounds, "federated rounds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(rounds);
  cmd.add_option("--clients-per-round", o.clients_per_round,
                 "clients sampled per round (0: use --fraction-fit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(rounds);
  cmd.add_option("--fraction-fit", o.fraction_fit, "share of available clients sampled per round")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str()
      ->group(rounds);
  cmd.add_option("--min-fit-clients", o.min_fit_clients,
                 "never sample fewer clients per round (if available)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(rounds);
  cmd.add_option("--min-available-clients", o.min_available_clients,
                 "a round starts only when this many clients are available (simulation: all "
                 "--clients are; it must not exceed them)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(rounds);
  cmd.add_option("--min-results", o.min_results,
                 "updates needed to aggregate a round (fewer: the round keeps the global model)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(rounds);
  cmd.add_option("--evaluate-clients", o.evaluate_clients,
                 "clients in federated evaluation (0: use --fraction-evaluate)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(rounds);
  cmd.add_option("--fraction-evaluate", o.fraction_evaluate,
                 "share of clients in federated evaluation (1: as many as train, 0: off)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str()
      ->group(rounds);
  cmd.add_option("--eval-every", o.eval_every,
                 "evaluate every k rounds and after the last (0: only after the last)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(rounds);
  cmd.add_option("--eval-precision", o.eval_precision,
                 "central evaluation: float (the run's precision) or int8 (compact model, "
                 "quantized at each evaluation: about 0.75x the time; the test split stays "
                 "float)")
      ->check(CLI::IsMember({"float", "int8"}))
      ->capture_default_str()
      ->group(rounds);

  const char* local = "Local instructions (sent with every fit)";
  cmd.add_option("--local-epochs", o.local_epochs, "local epochs per round")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(local);
  cmd.add_option("--local-steps", o.local_steps, "local optimizer steps (> 0: instead of epochs)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(local);
  cmd.add_option("--lr", o.lr, "local learning rate (of round 1)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str()
      ->group(local);
  cmd.add_option("--round-schedule", o.round_schedule,
                 "local learning rate across rounds: exponential (--lr-decay) or cosine "
                 "(--lr down to --min-lr over --rounds)")
      ->check(CLI::IsMember({"exponential", "cosine"}))
      ->capture_default_str()
      ->group(local);
  cmd.add_option("--lr-decay", o.lr_decay, "exponential: local learning rate *= this every round")
      ->capture_default_str()
      ->group(local);
  cmd.add_option("--min-lr", o.min_lr, "cosine: the last round's learning rate")
      ->capture_default_str()
      ->group(local);
  cmd.add_option("--trainable-groups", o.trainable_groups,
                 "layer groups the clients train, the rest frozen (all, or e.g. head or "
                 "stage4,head: `fedsign models --groups`; batchnorm: every BatchNorm layer's "
                 "scale and shift, its statistics frozen)")
      ->delimiter(',')
      ->capture_default_str()
      ->group(local);

  const char* run = "Run output";
  cmd.add_option("--out", options.out, "run directory (metrics.csv, charts, server.ckpt, model.pt)")
      ->capture_default_str()
      ->group(run);
  cmd.add_option("--name", options.name, "run name for charts")->group(run);
  cmd.add_flag("--resume", options.resume,
               "continue from OUT/server.ckpt (an error when there is none)")
      ->group(run);
}

namespace {

// The options settings_json records: all but where, how long, how loud and how fast.
std::vector<const CLI::Option*> shaping_options(const CLI::App& command) {
  static const std::set<std::string> ignored = {
      "rounds", "resume", "out", "name", "config", "log-level", "threads", "parallel-clients",
      "help", "cache-dir",
      "no-cache", "eval-every", "on-bad-image", "eval-batch-size", "eval-precision"};
  std::vector<const CLI::Option*> options;
  for (const CLI::Option* opt : command.get_options()) {
    const std::string name = opt->get_single_name();
    if (name.empty() || ignored.count(name) || opt->get_group() == kNetworkGroup) continue;
    options.push_back(opt);
  }
  return options;
}

}  // namespace

std::string settings_json(const CLI::App& command) {
  nlohmann::json settings = nlohmann::json::object();
  for (const CLI::Option* opt : shaping_options(command)) {
    std::string value;
    for (const auto& r : opt->results()) value += (value.empty() ? "" : ",") + r;
    if (opt->results().empty()) value = opt->get_default_str();
    settings[opt->get_single_name()] = value;
  }
  return settings.dump();
}

std::string settings_defaults_json(const CLI::App& command) {
  nlohmann::json defaults = nlohmann::json::object();
  for (const CLI::Option* opt : shaping_options(command)) {
    defaults[opt->get_single_name()] = opt->get_default_str();
  }
  return defaults.dump();
}

fl::RunConfig run_config(const CLI::App& command, const FederationOptions& o,
                         const std::string& title) {
  fl::RunConfig run;
  run.rounds = o.config.rounds;
  run.eval_every = o.config.eval_every;
  run.run_dir = o.out;
  run.resume = o.resume;
  run.title = o.name.empty() ? title : o.name;
  run.settings_json = settings_json(command);
  run.settings_defaults_json = settings_defaults_json(command);
  return run;
}

}  // namespace fedsign::cli
