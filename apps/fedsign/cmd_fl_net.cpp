// `fedsign fl server` and `fedsign fl client`: federated learning across processes and machines
// over gRPC (src/fedsign/net, docs/network.md). Registered under the `fl` command group.
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <fstream>

#include "commands.h"
#include "data_options.h"
#include "fedsign/core/check.h"
#include "fedsign/fl/partition.h"
#include "fedsign/net/client.h"
#include "fedsign/net/server.h"
#include "fedsign/train/trainer.h"
#include "train_options.h"

namespace fedsign::cli {

namespace {

struct ServerCommand {
  net::ServerOptions server;
  int64_t local_epochs = 1;
  int64_t local_steps = 0;
  double lr = 0;  // 0: clients use their own --lr
  std::string round_schedule = "exponential";
  double lr_decay = 1.0;
  double min_lr = 0.0;
  double proximal_mu = -1, server_lr = -1, server_momentum = -1, tau = -1, beta1 = -1, beta2 = -1;
  double max_update_mb = 0;
};

void run_server(const ServerCommand& c) {
  net::ServerOptions o = c.server;
  fl::Config& fit = o.strategy_options.fit_config;
  fit[fl::keys::kLocalEpochs] = c.local_epochs;
  if (c.local_steps > 0) fit[fl::keys::kLocalSteps] = c.local_steps;
  if (c.lr > 0) fit[fl::keys::kLr] = c.lr;
  FEDSIGN_CHECK(c.lr > 0 || (c.round_schedule == "exponential" && c.lr_decay == 1.0),
                "--round-schedule/--lr-decay need --lr: the server schedules the rate it sends");
  o.strategy_options.lr_schedule = c.round_schedule;
  o.strategy_options.lr_decay = c.lr_decay;
  o.strategy_options.min_lr = c.min_lr;
  o.strategy_options.total_rounds = o.rounds;
  o.strategy_options.seed = o.seed;
  o.strategy_options.min_fit_clients = std::min(o.strategy_options.min_fit_clients, o.min_clients);
  const std::initializer_list<std::pair<const char*, double>> params = {
      {"proximal_mu", c.proximal_mu}, {"server_lr", c.server_lr},
      {"server_momentum", c.server_momentum}, {"tau", c.tau}, {"beta1", c.beta1},
      {"beta2", c.beta2}};
  for (const auto& [key, value] : params) {
    if (value >= 0) o.strategy_params[key] = value;
  }
  if (c.proximal_mu >= 0) fit[fl::keys::kProximalMu] = c.proximal_mu;
  o.max_update_bytes = static_cast<int64_t>(c.max_update_mb * 1e6);
  net::run_server(o);
}

struct ClientCommand {
  DataOptions data;
  TrainOptions train;
  net::ClientOptions client;
  std::string token_file;
  int64_t partition_index = 0;
  int64_t partition_count = 1;
  uint64_t partition_seed = 1;
};

void run_client(const ClientCommand& c) {
  net::ClientOptions o = c.client;
  o.train = resolve(c.train, c.data);
  train::configure_threads(o.train.threads);
  if (!c.token_file.empty()) {
    std::ifstream in(c.token_file);
    FEDSIGN_CHECK(in.good() && std::getline(in, o.token), "cannot read token from {}", c.token_file);
  }
  FEDSIGN_CHECK(c.partition_count >= 1 && c.partition_index >= 0 &&
                    c.partition_index < c.partition_count,
                "--partition-index {} not in [0, --partition-count {})", c.partition_index,
                c.partition_count);
  data::ImageSet set = load_dataset(c.data);
  data::Indices mine = data::all_indices(set);
  if (c.partition_count > 1) {
    fl::PartitionConfig partition;
    partition.kind = fl::PartitionKind::kIid;
    partition.num_clients = c.partition_count;
    partition.seed = c.partition_seed;
    mine = fl::partition(set, mine, partition)[static_cast<std::size_t>(c.partition_index)];
  }
  const fl::ClientSplit split =
      fl::split_client_data(set, mine, c.data.val_fraction, c.data.split_seed);
  spdlog::info("client '{}': {} local training / {} local test images (share {} of {})",
               o.name, split.train.size(), split.test.size(), c.partition_index,
               c.partition_count);
  const fl::ClientData data{split.train, split.test};
  net::run_client(o, set, data);
}

CLI::App* fl_group(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands([](CLI::App* a) { return a->get_name() == "fl"; })) {
    return sub;
  }
  return add_command(app, "fl", "Federated learning");
}

void add_tls_options(CLI::App& cmd, net::TlsFiles& tls, bool server) {
  if (server) {
    cmd.add_option("--tls-cert", tls.cert, "server certificate (PEM): enables TLS");
    cmd.add_option("--tls-key", tls.key, "server private key (PEM)");
    cmd.add_option("--tls-client-ca", tls.ca,
                   "CA (PEM) that signs client certificates: enables mutual TLS, the "
                   "certificate's CN must equal the client --name");
  } else {
    cmd.add_option("--tls-ca", tls.ca, "CA (PEM) that signed the server certificate: enables TLS");
    cmd.add_option("--tls-cert", tls.cert, "client certificate (PEM) for mutual TLS");
    cmd.add_option("--tls-key", tls.key, "client private key (PEM) for mutual TLS");
  }
}

}  // namespace

void add_fl_net_commands(CLI::App& app, Actions& actions) {
  CLI::App* fl = fl_group(app);

  auto s = std::make_shared<ServerCommand>();
  CLI::App* server = add_command(*fl, "server", "Run a federated server for remote clients (gRPC)");
  auto& so = s->server;
  server->add_option("--address", so.address, "host:port to listen on (port 0: any)")->capture_default_str();
  server->add_option("--strategy", so.strategy, "fedavg, fedprox, fedavgm, fedadam, fedyogi, fedadagrad, scaffold")
      ->capture_default_str();
  server->add_option("--rounds", so.rounds, "federated rounds")->capture_default_str();
  server->add_option("--min-clients", so.min_clients, "connected clients needed to start a round")
      ->capture_default_str();
  server->add_option("--min-results", so.min_results,
                     "updates needed to aggregate a round (fewer: keep the model)")
      ->capture_default_str();
  server->add_option("--fraction-fit", so.strategy_options.fraction_fit, "share of clients per round")
      ->capture_default_str();
  server->add_option("--clients-per-round", so.strategy_options.clients_per_round,
                     "exactly this many clients per round (0: use --fraction-fit)")
      ->capture_default_str();
  server->add_option("--round-deadline", so.round_deadline_s, "seconds a round waits for updates")
      ->capture_default_str();
  server->add_option("--client-timeout", so.client_timeout_s,
                     "seconds without a call after which a client is dropped")
      ->capture_default_str();
  server->add_option("--heartbeat-ms", so.heartbeat_ms, "clients' heartbeat period")->capture_default_str();
  server->add_option("--start-timeout", so.start_timeout_s, "seconds to wait for --min-clients")
      ->capture_default_str();
  server->add_option("--shutdown-grace", so.shutdown_grace_s,
                     "seconds after the last round for clients to hear that training is over")
      ->capture_default_str();
  server->add_option("--eval-every", so.eval_every, "federated evaluation every k rounds")
      ->capture_default_str();
  server->add_option("--tokens", so.tokens_file, "per-client tokens file: '<name> <token> [revoked]' lines");
  add_tls_options(*server, so.tls, true);
  server->add_option("--out", so.out, "run directory (metrics.csv, network.csv, server.ckpt, model.pt)")
      ->capture_default_str();
  server->add_flag("--resume", so.resume, "continue from OUT/server.ckpt");
  server->add_option("--status-address", so.status_address,
                     "host:port for the HTTP JSON status endpoint (GET /status); empty: off");
  server->add_option("--model", so.model, "architecture the clients train")->capture_default_str();
  server->add_option("--size", so.input_size, "model input side in pixels")->capture_default_str();
  server->add_option("--contrast", so.contrast, "contrast normalization recorded in model.json")
      ->capture_default_str();
  server->add_option("--seed", so.seed, "initial weights and client sampling")->capture_default_str();
  server->add_option("--local-epochs", s->local_epochs, "local epochs per round")->capture_default_str();
  server->add_option("--local-steps", s->local_steps, "local steps per round (> 0 overrides epochs)")
      ->capture_default_str();
  server->add_option("--lr", s->lr, "clients' local learning rate (0: their own --lr)")->capture_default_str();
  server->add_option("--round-schedule", s->round_schedule,
                     "local lr across rounds: exponential (--lr-decay) or cosine (--lr to --min-lr)")
      ->check(CLI::IsMember({"exponential", "cosine"}))
      ->capture_default_str();
  server->add_option("--lr-decay", s->lr_decay, "local lr *= decay^(round-1)")->capture_default_str();
  server->add_option("--min-lr", s->min_lr, "cosine round schedule: last learning rate")
      ->capture_default_str();
  server->add_option("--proximal-mu", s->proximal_mu, "FedProx mu");
  server->add_option("--server-lr", s->server_lr, "FedAvgM/FedOpt/SCAFFOLD server learning rate");
  server->add_option("--server-momentum", s->server_momentum, "FedAvgM momentum");
  server->add_option("--tau", s->tau, "FedOpt adaptivity");
  server->add_option("--beta1", s->beta1, "FedOpt beta1");
  server->add_option("--beta2", s->beta2, "FedOpt beta2");
  server->add_option("--max-update-mb", s->max_update_mb,
                     "largest accepted update in MB (0: twice the model + 1 MiB)");
  actions[server] = [s] { run_server(*s); };

  auto c = std::make_shared<ClientCommand>();
  CLI::App* client = add_command(*fl, "client", "Run a federated client against a server (gRPC)");
  add_data_options(*client, c->data);
  add_train_options(*client, c->train);
  auto& co = c->client;
  client->add_option("--server", co.server, "server host:port")->capture_default_str();
  client->add_option("--name", co.name, "this client's name (unique; its token's name)")->required();
  client->add_option("--token", co.token, "this client's token");
  client->add_option("--token-file", c->token_file, "read the token from this file's first line");
  add_tls_options(*client, co.tls, false);
  client->add_option("--tls-server-name", co.tls_server_name,
                     "name expected in the server certificate (default: the --server host)");
  client->add_option("--partition-index", c->partition_index,
                     "take share i of --data (seeded IID, track-disjoint)")
      ->capture_default_str();
  client->add_option("--partition-count", c->partition_count, "number of shares of --data")
      ->capture_default_str();
  client->add_option("--partition-seed", c->partition_seed, "seed of the shares")->capture_default_str();
  client->add_option("--bn-mode", co.bn_mode, "aggregate or local (FedBN)")
      ->check(CLI::IsMember({"aggregate", "local"}))
      ->capture_default_str();
  client->add_option("--backoff-initial", co.backoff_initial_s, "first reconnect delay, seconds")
      ->capture_default_str();
  client->add_option("--backoff-max", co.backoff_max_s, "largest reconnect delay, seconds")
      ->capture_default_str();
  client->add_option("--give-up-after", co.give_up_s, "stop after this many seconds without the server")
      ->capture_default_str();
  client->add_option("--poll-ms", co.poll_ms, "long-poll time for tasks")->capture_default_str();
  client->add_option("--fault", co.fault, "FOR TESTS ONLY: nan, shape, stale or slow")
      ->check(CLI::IsMember({"nan", "shape", "stale", "slow"}));
  actions[client] = [c] { run_client(*c); };
}

}  // namespace fedsign::cli
