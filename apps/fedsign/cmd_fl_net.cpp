// `fedsign fl server` and `fedsign fl client`: federated learning across processes and machines
// over gRPC (src/fedsign/net, docs/network.md). The federation's options are the simulation's
// (fl_options.cpp): the server takes the strategy, rounds, sampling and local instructions; the
// client takes the partition and its local-training settings. Network options are their own;
// the Robustness options (robust_options.cpp) are the server's, as in the simulation.
#include <spdlog/spdlog.h>

#include "commands.h"
#include "data_options.h"
#include "fedsign/core/check.h"
#include "fedsign/data/split.h"
#include "fedsign/fl/run/central_evaluator.h"
#include "fedsign/fl/run/root_update.h"
#include "fedsign/net/client.h"
#include "fedsign/net/server.h"
#include "fedsign/train/trainer.h"
#include "fl_options.h"
#include "net_hardening_options.h"
#include "privacy_options.h"
#include "robust_options.h"
#include "train_options.h"

namespace fedsign::cli {

namespace {

struct ServerCommand {
  DataOptions data;  // --data: central evaluation on its validation split (optional)
  TrainOptions model;
  FederationOptions federation;
  net::ServerOptions server;
  double max_update_mb = 0;
};

void run_server(const CLI::App& command, ServerCommand& c) {
  net::ServerOptions o = c.server;
  o.federation = c.federation.config;
  o.federation.seed = c.model.config.seed;
  // DP options that cannot work are refused before any data is loaded or port opened.
  if (o.federation.dp_mode != "off") fl::federation_dp_options(o.federation);
  o.run = run_config(command, c.federation, o.federation.strategy + " over the network");
  o.model = c.model.config.model;
  o.dropout = c.model.config.dropout;
  o.input_size = c.data.size;
  o.contrast = c.data.contrast;
  o.max_update_bytes = static_cast<int64_t>(c.max_update_mb * 1e6);
  if (o.federation.clients_per_round > 0) {
    // The most a round can have: a rule that cannot work with it never will.
    fl::check_robust_round(o.federation.robust, o.federation.clients_per_round);
  }
  FEDSIGN_CHECK(!fl::needs_server_root(o.federation.robust) || !c.data.data_dir.empty(),
                "--robust fltrust and --label-test need --data: the server's root set comes "
                "from its training split");
  FEDSIGN_CHECK(o.federation.eval_precision == "float" || !c.data.data_dir.empty(),
                "--eval-precision int8 needs --data: without it the server does not evaluate");
  fl::CentralEvaluateFn evaluate;
  data::ImageSet set;  // outlives the run: the evaluator and FLTrust's root training read it
  data::TrackSplit split;
  if (!c.data.data_dir.empty()) {
    set = load_dataset(c.data);
    split = split_dataset(set, c.data);
    train::TrainConfig config = resolve(c.model, c.data);
    train::configure_threads(config.threads);
    std::optional<fl::Int8Calibration> int8;
    if (o.federation.eval_precision == "int8") {
      int8 = fl::int8_eval_calibration(set, split.train, config);
    }
    evaluate = fl::make_central_evaluator(set, split.validation, config, 43, int8);
    spdlog::info("central evaluation on {} held-out images of {}{}", split.validation.size(),
                 c.data.data_dir, int8 ? " in int8 (--eval-precision)" : "");
    // As in `fl simulate`: a sample of the training split; the root training uses the default
    // local-training settings and the round's instructions.
    o.root = fl::make_server_root(o.federation.robust, set, split.train, config);
  }
  net::run_server(o, std::move(evaluate));
  // As in `fl simulate`: the final global model (model.pt) meets the test split once.
  if (!split.test.empty()) {
    const train::TrainConfig config = resolve(c.model, c.data);
    report_test_split(o.run.run_dir, set, split.test, config.precision, config.eval_batch_size);
  }
}

struct ClientCommand {
  DataOptions data;
  TrainOptions train;
  PartitionOptions partition;
  net::ClientOptions client;
  std::string token_file;
};

void run_client(ClientCommand& c) {
  net::ClientOptions o = c.client;
  o.train = resolve(c.train, c.data);
  train::configure_threads(o.train.threads);
  o.token_file = c.token_file;
  FEDSIGN_CHECK(c.partition.index < c.partition.clients,
                "--partition-index {} not in [0, --clients {})", c.partition.index,
                c.partition.clients);
  data::ImageSet set = load_dataset(c.data);
  FEDSIGN_CHECK(c.partition.clients > 1 || c.data.test_fraction == 0,
                "--test-fraction splits a folder shared by --clients > 1 (as the server and "
                "`fl simulate` split it); a client that owns its folder trains on all of it");
  data::Indices pool = data::all_indices(set);  // a client that owns its folder holds all of it
  if (c.partition.clients > 1) {
    // A share of a common folder, exactly the simulation's client `index`: the same central
    // split (its validation part is the server's), partition and local split.
    pool = split_dataset(set, c.data).train;
    pool = data::partition(set, pool, to_partition_config(c.partition))
        [static_cast<std::size_t>(c.partition.index)];
    o.partition = partition_key(c.partition, c.data.val_fraction, c.data.split_seed,
                                c.data.test_fraction);
    o.partition_index = c.partition.index;
  }
  fl::ClientData data = client_data(set, pool, c.partition, c.partition.index);
  const int64_t renders = add_client_renders(set, data, c.partition, c.data, c.partition.index);
  spdlog::info("client '{}': share {} of {} ({}): {} local training ({} of them renders) / {} "
               "local test images", o.name, c.partition.index, c.partition.clients,
               partition_title(c.partition), data.train.size(), renders, data.test.size());
  net::run_client(o, set, data);
}

void add_tls_options(CLI::App& cmd, net::TlsFiles& tls, bool server) {
  if (server) {
    cmd.add_option("--tls-cert", tls.cert, "server certificate (PEM): enables TLS")->group(kNetworkGroup);
    cmd.add_option("--tls-key", tls.key, "server private key (PEM)")->group(kNetworkGroup);
    cmd.add_option("--tls-client-ca", tls.ca,
                   "CA (PEM) that signs client certificates: enables mutual TLS, the "
                   "certificate's CN must equal the client --name")
        ->group(kNetworkGroup);
  } else {
    cmd.add_option("--tls-ca", tls.ca, "CA (PEM) that signed the server certificate: enables TLS")
        ->group(kNetworkGroup);
    cmd.add_option("--tls-cert", tls.cert, "client certificate (PEM) for mutual TLS")->group(kNetworkGroup);
    cmd.add_option("--tls-key", tls.key, "client private key (PEM) for mutual TLS")->group(kNetworkGroup);
  }
}

void add_server_network_options(CLI::App& server, ServerCommand& s) {
  auto& so = s.server;
  const char* g = kNetworkGroup;
  server.add_option("--address", so.address, "host:port to listen on (port 0: any)")
      ->capture_default_str()->group(g);
  server.add_option("--round-deadline", so.round_deadline_s, "seconds a round waits for updates")
      ->capture_default_str()->group(g);
  server.add_option("--client-timeout", so.client_timeout_s,
                    "seconds without a call after which a client is dropped")
      ->capture_default_str()->group(g);
  server.add_option("--heartbeat-ms", so.heartbeat_ms, "clients' heartbeat period")
      ->capture_default_str()->group(g);
  server.add_option("--start-timeout", so.start_timeout_s,
                    "seconds a round waits for --min-available-clients")
      ->capture_default_str()->group(g);
  server.add_option("--shutdown-grace", so.shutdown_grace_s,
                    "seconds after the last round for clients to hear that training is over")
      ->capture_default_str()->group(g);
  server.add_option("--tokens", so.tokens_file,
                    "per-client tokens file: '<name> <token> [revoked]' lines")->group(g);
  add_tls_options(server, so.tls, true);
  server.add_option("--max-update-mb", s.max_update_mb,
                    "largest accepted update in MB (0: twice the model + 1 MiB)")
      ->capture_default_str()->group(g);
  add_server_hardening_options(server, so);
  // The simulation's codecs; top-k's residual lives in each client's state (--state-file).
  add_compress_options(server, so.compress);
  server.add_option("--download", so.download,
                    "dtype of the model sent to clients: float32, or bf16 (half the bytes; clients "
                    "train from it in float32)")
      ->check(CLI::IsMember({"float32", "bf16"}))
      ->capture_default_str()
      ->group("Compression");
  server.add_flag("--secagg", so.secagg,
                  "secure aggregation: the server learns only the sum of each round's updates "
                  "(needs --dp distributed; docs/privacy.md)")
      ->group(kPrivacyGroup);
  server.add_option("--secagg-threshold", so.secagg_threshold,
                    "share f of the sampled clients: the sum is recovered while floor(f m) + 1 "
                    "(at least 2) of them remain, and fewer colluders learn nothing")
      ->capture_default_str()->group(kPrivacyGroup);
  server.add_option("--secagg-step-timeout", so.secagg_step_timeout_s,
                    "seconds each key or unmasking step waits for the round's clients")
      ->capture_default_str()->group(kPrivacyGroup);
}

void add_client_network_options(CLI::App& client, ClientCommand& c) {
  auto& co = c.client;
  const char* g = kNetworkGroup;
  client.add_option("--server", co.server, "server host:port")->capture_default_str()->group(g);
  client.add_option("--name", co.name, "this client's name (unique; its token's name)")
      ->required()->group(g);
  client.add_option("--token", co.token,
                    "this client's token (visible in the process list: prefer --token-file or "
                    "$FEDSIGN_TOKEN)")
      ->group(g);
  client.add_option("--token-file", c.token_file,
                    "read the token from this file's first line (default: $FEDSIGN_TOKEN)")
      ->group(g);
  add_tls_options(client, co.tls, false);
  client.add_option("--tls-server-name", co.tls_server_name,
                    "name expected in the server certificate (default: the --server host)")
      ->group(g);
  client.add_option("--backoff-initial", co.backoff_initial_s, "first reconnect delay, seconds")
      ->capture_default_str()->group(g);
  client.add_option("--backoff-max", co.backoff_max_s, "largest reconnect delay, seconds")
      ->capture_default_str()->group(g);
  client.add_option("--give-up-after", co.give_up_s,
                    "stop after this many seconds without the server")
      ->capture_default_str()->group(g);
  client.add_option("--poll-ms", co.poll_ms, "long-poll time for tasks")->capture_default_str()->group(g);
  client.add_option("--fault", co.fault,
                    "FOR TESTS ONLY: nan, shape, stale, slow, inflate, huge, half, replay, replay-only, "
                    "steal, flood, die-download, secagg-drop (net/client_faults.h)")
      ->group(g);
  add_client_hardening_options(client, co);
  const char* attack = "Attack (tests and benchmarks)";
  client.add_option("--attack", co.attack.kind,
                    "FOR TESTS AND BENCHMARKS: poison this client's updates as `fl simulate "
                    "--attack` does: none, sign-flip, scale or noise")
      ->check(CLI::IsMember(fl::attack::update_attack_names()))
      ->capture_default_str()
      ->group(attack);
  client.add_option("--attack-scale", co.attack.scale,
                    "sign-flip: magnitude (0: 1); scale: boost factor (0: 10); noise: standard "
                    "deviation (0: 0.1)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str()
      ->group(attack);
}

}  // namespace

void add_fl_net_commands(CLI::App& app, Actions& actions) {
  CLI::App* fl = fl_group(app);

  auto s = std::make_shared<ServerCommand>();
  s->data.data_dir.clear();  // no central evaluation unless --data is given
  s->federation.out = "runs/fl-server";
  CLI::App* server = add_command(*fl, "server", "Run a federated server for remote clients (gRPC)");
  add_data_options(*server, s->data);
  add_test_split_option(*server, s->data);
  server->get_option("--data")->description(
      "GTSRB folder for central evaluation on its held-out split (--val-fraction, --split-seed); "
      "empty: none");
  add_model_options(*server, s->model);
  add_seed_option(*server, s->model.config.seed, "seed for the initial model and client sampling");
  add_federation_options(*server, s->federation);
  add_privacy_options(*server, s->federation.config);
  add_robust_options(*server, s->federation.config.robust);
  add_server_network_options(*server, *s);
  actions[server] = [server, s] { run_server(*server, *s); };

  auto c = std::make_shared<ClientCommand>();
  c->partition.clients = 1;  // by default a client trains on all of its --data
  CLI::App* client = add_command(*fl, "client", "Run a federated client against a server (gRPC)");
  add_data_options(*client, c->data);
  add_test_split_option(*client, c->data);
  add_local_training_options(*client, c->train);
  add_seed_option(*client, c->train.config.seed, "seed for local shuffling and augmentation");
  add_partition_options(*client, c->partition, true);
  client->add_option("--bn", c->client.bn_mode, "BatchNorm: aggregate, or local (FedBN)")
      ->check(CLI::IsMember({"aggregate", "local"}))
      ->capture_default_str();
  client->add_option("--state-file", c->client.state_file,
                     "keep this client's state (SCAFFOLD c_i, FedBN tensors, top-k residual) in this file across "
                     "restarts of this process, for the server's current run only (default: in "
                     "memory only)");
  add_client_network_options(*client, *c);
  actions[client] = [c] { run_client(*c); };
}

}  // namespace fedsign::cli
