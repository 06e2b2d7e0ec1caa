#include "fedsign/net/server.h"

#include "fedsign/net/dashboard.h"

#include <fmt/format.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <thread>

#include <malloc.h>
#include <unistd.h>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/core/read_file.h"
#include "fedsign/fl/privacy/dp_fedavg.h"
#include "fedsign/models/registry.h"
#include "fedsign/models/weights.h"
#include "fedsign/net/coordinator.h"
#include "fedsign/net/dashboard.h"
#include "fedsign/net/network_metrics.h"
#include "fedsign/net/partition_check.h"
#include "fedsign/net/round_adapter.h"
#include "fedsign/net/run_identity.h"
#include "fedsign/net/server_setup.h"
#include "fedsign/net/service.h"
#include "fedsign/net/status_http.h"
#include "fedsign/train/model_bundle.h"

namespace fedsign::net {

namespace fs = std::filesystem;

namespace {

std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

std::shared_ptr<grpc::ServerCredentials> server_credentials(const ServerOptions& o) {
  if (o.tls.cert.empty()) {
    FEDSIGN_CHECK(o.tls.ca.empty(), "--tls-client-ca needs --tls-cert and --tls-key");
    return grpc::InsecureServerCredentials();
  }
  FEDSIGN_CHECK(!o.tls.key.empty(), "--tls-cert needs --tls-key");
  grpc::SslServerCredentialsOptions ssl(
      o.tls.ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                       : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  if (!o.tls.ca.empty()) ssl.pem_root_certs = read_file(o.tls.ca);
  ssl.pem_key_cert_pairs.push_back({read_file(o.tls.key), read_file(o.tls.cert)});
  return grpc::SslServerCredentials(ssl);
}

std::string fmt_bytes(double b) {
  if (b >= 1e6) return fmt::format("{:.1f} MB", b / 1e6);
  return fmt::format("{:.1f} kB", b / 1e3);
}


// The network's part of the shared run loop: waiting for clients, accounting, network.csv, the
// status board, and the state a restarted server needs (client ids, partition, history).
class NetworkRun : public fl::RunHooks {
 public:
  NetworkRun(const ServerOptions& o, Coordinator& coordinator, DispatchingStrategy& dispatch,
             PartitionCheck& partitions, RunBoard& board, models::Classifier& model)
      : o_(o), coordinator_(coordinator), dispatch_(dispatch), partitions_(partitions),
        board_(board), model_(model) {}

  void restore(const fl::ServerCheckpoint& checkpoint) override {
    const auto extra = nlohmann::json::parse(checkpoint.extra_json);
    coordinator_.restore_ids(extra.value("client_ids", std::map<std::string, int64_t>{}));
    for (const auto& row : extra.value("network_history", nlohmann::json::array())) {
      history_.push_back(net_row_from_json(row));
    }
    rejected_before_ = extra.value("rejected", int64_t{0});
    if (extra.contains("partition")) partitions_.restore(extra.at("partition").dump());
    // Which updates of each client the resumed model holds (its FIT tasks tell it).
    std::optional<std::map<fl::ClientId, int64_t>> taken;
    if (extra.contains("taken_rounds")) {
      taken.emplace();
      for (const auto& [id, round] : extra.at("taken_rounds").items())
        (*taken)[std::stoll(id)] = round.get<int64_t>();
    }
    dispatch_.restore_taken_rounds(std::move(taken));
  }

  void before_round(int64_t round) override {
    coordinator_.set_round(round);
    set_phase(round, "waiting for clients");
    const int64_t needed = o_.federation.min_available_clients;
    FEDSIGN_CHECK(coordinator_.wait_for_clients(needed, millis(o_.start_timeout_s)),
                  "round {}: fewer than {} clients connected within {} s", round, needed,
                  o_.start_timeout_s);
    sent0_ = coordinator_.bytes_sent;
    received0_ = coordinator_.bytes_received;
    rejected0_ = coordinator_.rejected_total();
    connected_ = static_cast<int64_t>(coordinator_.alive_clients().size());
    set_phase(round, "training");
  }

  void after_round(const fl::RoundRecord& record) override {
    NetRow row;
    row.round = record.round;
    row.clients_connected = connected_;
    row.seconds = record.seconds;
    row.max_train_seconds = dispatch_.max_train_seconds();
    row.eval_seconds = record.eval_seconds;
    row.overhead_seconds = record.seconds - row.max_train_seconds - record.eval_seconds;
    row.bytes_sent = coordinator_.bytes_sent - sent0_;
    row.bytes_received = coordinator_.bytes_received - received0_;
    row.rejected = coordinator_.rejected_total() - rejected0_;
    row.peak_rss_mb = peak_rss_mb();
    history_.push_back(row);
    failures_ = record.failures;
  }

  // Every round's global model as model.pt + model.json (both atomic), so that `fedsign serve`
  // or `fedsign evaluate RUN_DIR` follows the federation while it runs.
  void global_model(int64_t /*round*/, const fl::Weights& global) override {
    publish_model(global);
  }

  void publish_model(const fl::Weights& global) {
    fl::set_weights(model_, global);
    // model.json describes the architecture, which a run never changes: written once, before
    // the first model.pt, so that a reader never finds weights without their description.
    if (!model_info_written_) {
      train::save_model_info(o_.run.run_dir / "model.json",
                             {o_.model, o_.num_classes, o_.input_size, o_.contrast});
      model_info_written_ = true;
    }
    models::save_weights(model_, o_.run.run_dir / "model.pt");
  }

  std::string extra_json() const override {
    nlohmann::json extra;
    extra["client_ids"] = coordinator_.ids();
    extra["rejected"] = rejected_before_ + coordinator_.rejected_total();
    auto& rows = extra["network_history"] = nlohmann::json::array();
    for (const auto& r : history_) rows.push_back(to_json(r));
    extra["partition"] = nlohmann::json::parse(partitions_.to_json());
    auto& taken = extra["taken_rounds"] = nlohmann::json::object();
    for (const auto& [id, round] : dispatch_.taken_rounds()) taken[std::to_string(id)] = round;
    return extra.dump();
  }

  void after_checkpoint(const fl::RoundMetrics& m) override {
    write_network_csv(o_.run.run_dir / "network.csv", history_);
    const NetRow& row = history_.back();
    std::string line = fmt::format(
        "round {}/{}: {}/{} clients ok, {} failed, {} rejected, train loss {:.4f}", m.round,
        o_.run.rounds, m.clients_trained, m.clients_sampled, m.failures, row.rejected,
        m.train_loss);
    if (std::isfinite(m.central_accuracy)) {
      line += fmt::format(", central acc {:.2f}%", 100 * m.central_accuracy);
    }
    if (std::isfinite(m.federated_accuracy)) {
      line += fmt::format(", federated acc {:.2f}%", 100 * m.federated_accuracy);
    }
    line += fmt::format(", {:.2f} s (training {:.2f} s, overhead {:.2f} s), sent {}, received {}",
                        row.seconds, row.max_train_seconds, row.overhead_seconds,
                        fmt_bytes(static_cast<double>(row.bytes_sent)),
                        fmt_bytes(static_cast<double>(row.bytes_received)));
    spdlog::info("{}", line);
    for (const auto& f : failures_) spdlog::info("  round {}: {}", m.round, f.reason);
    board_.add_round(m, to_json(row));
  }

  void set_phase(int64_t round, const std::string& phase) { board_.set_phase(round, phase); }

  int64_t rejected_before() const { return rejected_before_; }

 private:
  const ServerOptions& o_;
  Coordinator& coordinator_;
  DispatchingStrategy& dispatch_;
  PartitionCheck& partitions_;
  RunBoard& board_;
  models::Classifier& model_;
  std::vector<NetRow> history_;
  std::vector<fl::Failure> failures_;
  int64_t rejected_before_ = 0;
  int64_t sent0_ = 0, received0_ = 0, rejected0_ = 0, connected_ = 0;
  bool model_info_written_ = false;
};

std::unique_ptr<StatusEndpoint> start_status(const ServerOptions& o, RunBoard& board,
                                             Coordinator& coordinator, const NetworkRun& run) {
  return start_status_endpoint(o, [&o, &board, &coordinator, &run] {
    nlohmann::json j = board.status({{"kind", "network server"}});
    j["rounds"] = o.run.rounds;
    j["strategy"] = o.federation.strategy;
    j["model"] = o.model;
    auto& clients = j["clients"] = nlohmann::json::array();
    int64_t connected = 0;
    for (const auto& c : coordinator.clients()) {
      connected += c.alive;
      clients.push_back({{"id", c.id}, {"name", c.name}, {"connected", c.alive},
                         {"seconds_since_seen", c.seconds_since_seen},
                         {"train_examples", c.num_train_examples},
                         {"test_examples", c.num_test_examples}, {"state", c.state}});
    }
    j["connected_clients"] = connected;
    j["rejected_updates"] = run.rejected_before() + coordinator.rejected_total();
    j["bytes_sent"] = coordinator.bytes_sent.load();
    j["bytes_received"] = coordinator.bytes_received.load();
    j["rejected_by_cause"] = coordinator.rejected_by_reason();
    return j.dump();
  });
}

}  // namespace

int64_t run_server(const ServerOptions& o, fl::CentralEvaluateFn evaluate) {
  FEDSIGN_CHECK(!o.tokens_file.empty() || !o.tls.ca.empty(),
                "refusing to run without client authentication: give --tokens FILE and/or "
                "--tls-client-ca (mutual TLS)");
  check_listen_security(o);
  FEDSIGN_CHECK(!o.run.run_dir.empty(), "the server needs a run directory (--out)");
  fs::create_directories(o.run.run_dir);
  // Every gRPC thread would otherwise get its own malloc arena that keeps freed chunk buffers:
  // memory would grow with the number of concurrent clients instead of the model size. A fixed
  // mmap threshold also turns off glibc's dynamic one, which after the first freed weight blob
  // would serve every later blob from the heap and keep it there.
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);

  models::ModelOptions model_options;
  model_options.num_classes = o.num_classes;
  model_options.input_size = o.input_size;
  model_options.dropout = o.dropout;
  torch::manual_seed(o.federation.seed);
  std::shared_ptr<models::Classifier> model = models::create_model(o.model, model_options);
  fl::FederationConfig federation = o.federation;
  fl::resolve_model_settings(federation, *model);  // --init-weights, --trainable-groups
  std::unique_ptr<fl::Strategy> strategy =
      fl::make_federation_strategy(federation, std::move(evaluate), o.root);
  fl::Weights global = strategy->initialize_parameters().value_or(fl::get_weights(*model));

  TokenStore tokens(o.tokens_file);
  Coordinator coordinator(make_coordinator_options(o), tokens);
  DispatchingStrategy dispatch(*strategy, coordinator, millis(o.round_deadline_s));
  dispatch.set_min_results(o.federation.min_results);
  dispatch.set_upload_codec(o.compress);
  FEDSIGN_CHECK(o.download == "float32" || o.download == "bf16",
                "--download {}: float32 or bf16", o.download);
  dispatch.set_bf16_downloads(o.download == "bf16");
  if (o.secagg) {
    dispatch.enable_secagg({o.secagg_threshold, millis(o.secagg_step_timeout_s)});
    FEDSIGN_CHECK(o.federation.clients_per_round >= 2,
                  "secure aggregation needs --clients-per-round of at least 2 (got {}): the sum "
                  "of one update is that update", o.federation.clients_per_round);
  }
  PartitionCheck partitions;
  ServiceOptions service_options = make_service_options(o);
  service_options.run_id = federation_run_id(o.run.run_dir, o.run.resume);
  service_options.partitions = &partitions;
  FederationService service(coordinator, dispatch, service_options);

  RunBoard board;
  NetworkRun hooks(o, coordinator, dispatch, partitions, board, *model);
  NetClientManager manager(coordinator);
  fl::RunDriver driver(dispatch, manager, dispatch.client_factory(), o.run, hooks);

  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(o.address, server_credentials(o), &port);
  builder.RegisterService(&service);
  configure_builder(builder, o);
  std::unique_ptr<grpc::Server> grpc_server = builder.BuildAndStart();
  FEDSIGN_CHECK(grpc_server && port > 0, "cannot listen on {}", o.address);
  std::unique_ptr<StatusEndpoint> status = start_status(o, board, coordinator, hooks);
  write_text_atomically(o.run.run_dir / "endpoint.json",
                        nlohmann::json{{"address", o.address},
                                       {"port", port},
                                       {"status_port", status ? status->port() : 0},
                                       {"pid", static_cast<int64_t>(::getpid())}}
                            .dump(2));
  spdlog::info("fl server ({}, {}) listening on {} (port {}){}; {} rounds, >= {} clients",
               o.federation.strategy, o.model, o.address, port, o.tls.cert.empty() ? "" : ", TLS",
               o.run.rounds, o.federation.min_available_clients);

  driver.run(global);

  // The final model, usable by `fedsign evaluate RUN_DIR` / `fedsign predict RUN_DIR` (also
  // written after every round; again here for a run resumed after its last round).
  hooks.publish_model(strategy->released_model(global));

  hooks.set_phase(o.run.rounds, "finished");
  coordinator.shutdown();
  const auto grace_until = Clock::now() + millis(o.shutdown_grace_s);
  while (!coordinator.all_told_shutdown() && Clock::now() < grace_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  std::string privacy;
  if (const auto* dp = dynamic_cast<const fl::privacy::DpFedAvg*>(strategy.get())) {
    privacy = fmt::format("; DP ({}): epsilon {:.4g} at delta {:g}{}",
                          fl::privacy::to_string(dp->options().mode), dp->epsilon(),
                          dp->options().delta, o.secagg ? ", secure aggregation" : "");
  }
  spdlog::info("fl server finished {} rounds{}; outputs in {}", o.run.rounds, privacy,
               o.run.run_dir.string());
  return o.run.rounds;
}

}  // namespace fedsign::net
