#include "fedsign/net/server.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include <malloc.h>
#include <unistd.h>

#include "fedsign/core/atomic_file.h"
#include "fedsign/core/check.h"
#include "fedsign/core/read_file.h"
#include "fedsign/fl/run_metrics.h"
#include "fedsign/fl/server.h"
#include "fedsign/fl/server_checkpoint.h"
#include "fedsign/models/registry.h"
#include "fedsign/models/weights.h"
#include "fedsign/net/coordinator.h"
#include "fedsign/net/round_adapter.h"
#include "fedsign/net/service.h"
#include "fedsign/net/status_http.h"
#include "fedsign/train/model_bundle.h"

namespace fedsign::net {

namespace fs = std::filesystem;

namespace {

// Peak resident memory of this process (VmHWM), in MiB.
double peak_rss_mb() {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
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

// One network.csv row: what the network adds to a round.
struct NetRow {
  int64_t round = 0;
  int64_t clients_connected = 0;
  double seconds = 0, max_train_seconds = 0, eval_seconds = 0, overhead_seconds = 0;
  int64_t bytes_sent = 0, bytes_received = 0, rejected = 0;
  double peak_rss_mb = 0;
};

nlohmann::json to_json(const NetRow& r) {
  return {{"round", r.round}, {"clients_connected", r.clients_connected}, {"seconds", r.seconds},
          {"max_train_seconds", r.max_train_seconds}, {"eval_seconds", r.eval_seconds},
          {"overhead_seconds", r.overhead_seconds}, {"bytes_sent", r.bytes_sent},
          {"bytes_received", r.bytes_received}, {"rejected", r.rejected},
          {"peak_rss_mb", r.peak_rss_mb}};
}

NetRow net_row_from_json(const nlohmann::json& j) {
  NetRow r;
  r.round = j.value("round", int64_t{0});
  r.clients_connected = j.value("clients_connected", int64_t{0});
  r.seconds = j.value("seconds", 0.0);
  r.max_train_seconds = j.value("max_train_seconds", 0.0);
  r.eval_seconds = j.value("eval_seconds", 0.0);
  r.overhead_seconds = j.value("overhead_seconds", 0.0);
  r.bytes_sent = j.value("bytes_sent", int64_t{0});
  r.bytes_received = j.value("bytes_received", int64_t{0});
  r.rejected = j.value("rejected", int64_t{0});
  r.peak_rss_mb = j.value("peak_rss_mb", 0.0);
  return r;
}

void write_network_csv(const fs::path& file, const std::vector<NetRow>& rows) {
  std::string text =
      "round,clients_connected,seconds,max_train_seconds,eval_seconds,overhead_seconds,"
      "bytes_sent,bytes_received,rejected,peak_rss_mb\n";
  for (const auto& r : rows) {
    text += fmt::format("{},{},{:.4f},{:.4f},{:.4f},{:.4f},{},{},{},{:.1f}\n", r.round,
                        r.clients_connected, r.seconds, r.max_train_seconds, r.eval_seconds,
                        r.overhead_seconds, r.bytes_sent, r.bytes_received, r.rejected,
                        r.peak_rss_mb);
  }
  write_text_atomically(file, text);
}

std::string fmt_bytes(double b) {
  if (b >= 1e6) return fmt::format("{:.1f} MB", b / 1e6);
  return fmt::format("{:.1f} kB", b / 1e3);
}

// What the status endpoint shows; guarded by its mutex.
struct Board {
  std::mutex mutex;
  int64_t round = 0;
  std::string phase = "starting";
  nlohmann::json last_round = nullptr;
};

}  // namespace

int64_t run_server(const ServerOptions& o) {
  FEDSIGN_CHECK(o.rounds >= 1, "--rounds must be >= 1");
  FEDSIGN_CHECK(o.min_clients >= 1, "--min-clients must be >= 1");
  FEDSIGN_CHECK(!o.tokens_file.empty() || !o.tls.ca.empty(),
                "refusing to run without client authentication: give --tokens FILE and/or "
                "--tls-client-ca (mutual TLS)");
  if (o.tls.cert.empty()) {
    spdlog::warn("TLS is off: tokens and weights travel in clear text (use --tls-cert/--tls-key "
                 "beyond a trusted network)");
  }
  fs::create_directories(o.out);
  // Every gRPC thread would otherwise get its own malloc arena that keeps freed chunk buffers:
  // memory would grow with the number of concurrent clients instead of the model size. A fixed
  // mmap threshold also turns off glibc's dynamic one, which after the first freed weight blob
  // would serve every later blob from the heap and keep it there.
  mallopt(M_ARENA_MAX, 2);
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  const fs::path checkpoint_file = o.out / "server.ckpt";

  std::unique_ptr<fl::Strategy> strategy =
      fl::make_strategy(o.strategy, o.strategy_options, o.strategy_params);
  models::ModelOptions model_options;
  model_options.num_classes = o.num_classes;
  model_options.input_size = o.input_size;
  model_options.dropout = o.dropout;
  torch::manual_seed(o.seed);
  std::shared_ptr<models::Classifier> model = models::create_model(o.model, model_options);
  fl::Weights global = strategy->initialize_parameters().value_or(fl::get_weights(*model));

  TokenStore tokens(o.tokens_file);
  CoordinatorOptions coordinator_options;
  coordinator_options.client_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(o.client_timeout_s * 1000));
  coordinator_options.heartbeat = std::chrono::milliseconds(o.heartbeat_ms);
  Coordinator coordinator(coordinator_options, tokens);

  const nlohmann::json settings = {{"kind", "network"},  {"strategy", o.strategy},
                                   {"model", o.model},     {"input_size", o.input_size},
                                   {"num_classes", o.num_classes}};
  int64_t start = 0;
  std::vector<fl::RoundMetrics> history;
  std::vector<NetRow> net_history;
  int64_t rejected_before = 0;
  if (o.resume && fs::exists(checkpoint_file)) {
    fl::ServerCheckpoint c = fl::load_server_checkpoint(checkpoint_file);
    const auto saved = nlohmann::json::parse(c.settings_json);
    for (const char* key : {"strategy", "model", "input_size", "num_classes"}) {
      FEDSIGN_CHECK(saved.value(key, nlohmann::json()) == settings[key],
                    "{}: {} was {} when the run started, now {}", checkpoint_file.string(), key,
                    saved.value(key, nlohmann::json()).dump(), settings[key].dump());
    }
    start = c.round;
    global = std::move(c.global);
    strategy->load_state(c.strategy_state);
    history = fl::metrics_from_json(c.history_json);
    coordinator.restore_ids(saved.value("client_ids", std::map<std::string, int64_t>{}));
    for (const auto& row : saved.value("network_history", nlohmann::json::array())) {
      net_history.push_back(net_row_from_json(row));
    }
    rejected_before = saved.value("rejected", int64_t{0});
    spdlog::info("resuming after round {} from {}", start, checkpoint_file.string());
  } else if (o.resume) {
    spdlog::info("--resume: no checkpoint in {}, starting at round 1", o.out.string());
  }

  DispatchingStrategy dispatch(*strategy, coordinator,
                               std::chrono::milliseconds(static_cast<int64_t>(o.round_deadline_s * 1000)));
  dispatch.set_min_results(o.min_results);
  ServiceOptions service_options;
  service_options.model = o.model;
  service_options.input_size = o.input_size;
  service_options.num_classes = o.num_classes;
  service_options.heartbeat = coordinator_options.heartbeat;
  service_options.max_update_bytes = o.max_update_bytes;
  service_options.client_certificates = !o.tls.ca.empty();
  FederationService service(coordinator, dispatch, service_options);

  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(o.address, server_credentials(o), &port);
  builder.RegisterService(&service);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);  // keep per-stream windows small
  std::unique_ptr<grpc::Server> grpc_server = builder.BuildAndStart();
  FEDSIGN_CHECK(grpc_server && port > 0, "cannot listen on {}", o.address);

  Board board;
  std::unique_ptr<StatusEndpoint> status;
  if (!o.status_address.empty()) {
    status = std::make_unique<StatusEndpoint>(o.status_address, [&] {
      nlohmann::json j;
      {
        std::lock_guard lock(board.mutex);
        j["round"] = board.round;
        j["phase"] = board.phase;
        j["last_round"] = board.last_round;
      }
      j["rounds"] = o.rounds;
      j["strategy"] = o.strategy;
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
      j["rejected_updates"] = rejected_before + coordinator.rejected_total();
      j["bytes_sent"] = coordinator.bytes_sent.load();
      j["bytes_received"] = coordinator.bytes_received.load();
      return j.dump();
    });
  }
  write_text_atomically(o.out / "endpoint.json",
                        nlohmann::json{{"address", o.address},
                                       {"port", port},
                                       {"status_port", status ? status->port() : 0},
                                       {"pid", static_cast<int64_t>(::getpid())}}
                            .dump(2));
  spdlog::info("fl server ({}, {}) listening on {} (port {}){}; rounds {}..{}, >= {} clients",
               o.strategy, o.model, o.address, port, o.tls.cert.empty() ? "" : ", TLS",
               start + 1, o.rounds, o.min_clients);

  NetClientManager manager(coordinator);
  fl::Server loop(dispatch, manager, dispatch.client_factory());
  auto set_phase = [&](int64_t round, const std::string& phase) {
    std::lock_guard lock(board.mutex);
    board.round = round;
    board.phase = phase;
  };
  for (int64_t round = start + 1; round <= o.rounds; ++round) {
    coordinator.set_round(round);
    set_phase(round, "waiting for clients");
    FEDSIGN_CHECK(coordinator.wait_for_clients(
                      o.min_clients, std::chrono::milliseconds(static_cast<int64_t>(o.start_timeout_s * 1000))),
                  "round {}: fewer than {} clients connected within {} s", round, o.min_clients,
                  o.start_timeout_s);
    const int64_t sent0 = coordinator.bytes_sent, received0 = coordinator.bytes_received;
    const int64_t rejected0 = coordinator.rejected_total();
    const int64_t connected = static_cast<int64_t>(coordinator.alive_clients().size());
    set_phase(round, "training");
    const bool evaluate = round % std::max<int64_t>(1, o.eval_every) == 0 || round == o.rounds;
    fl::RoundRecord record = loop.run_round(round, global, evaluate);
    fl::RoundMetrics metrics = fl::to_metrics(record);
    history.push_back(metrics);

    NetRow row;
    row.round = round;
    row.clients_connected = connected;
    row.seconds = record.seconds;
    row.max_train_seconds = dispatch.max_train_seconds();
    row.eval_seconds = record.eval_seconds;
    row.overhead_seconds = record.seconds - row.max_train_seconds - record.eval_seconds;
    row.bytes_sent = coordinator.bytes_sent - sent0;
    row.bytes_received = coordinator.bytes_received - received0;
    row.rejected = coordinator.rejected_total() - rejected0;
    row.peak_rss_mb = peak_rss_mb();
    net_history.push_back(row);

    // Checkpoint first: a crash after this line loses nothing of this round.
    fl::ServerCheckpoint c;
    c.round = round;
    c.strategy = o.strategy;
    c.global = global;
    c.strategy_state = strategy->state();
    c.history_json = fl::metrics_to_json(history);
    nlohmann::json saved = settings;
    saved["client_ids"] = coordinator.ids();
    saved["rejected"] = rejected_before + coordinator.rejected_total();
    auto& rows = saved["network_history"] = nlohmann::json::array();
    for (const auto& r : net_history) rows.push_back(to_json(r));
    c.settings_json = saved.dump();
    fl::save_server_checkpoint(checkpoint_file, c);
    fl::write_run_outputs(o.out, history, fmt::format("{} over the network", o.strategy));
    write_network_csv(o.out / "network.csv", net_history);

    std::string line = fmt::format(
        "round {}/{}: {}/{} clients ok, {} failed, {} rejected, train loss {:.4f}", round,
        o.rounds, metrics.clients_trained, metrics.clients_sampled, metrics.failures, row.rejected,
        metrics.train_loss);
    if (std::isfinite(metrics.federated_accuracy)) {
      line += fmt::format(", federated acc {:.2f}%", 100 * metrics.federated_accuracy);
    }
    line += fmt::format(", {:.2f} s (training {:.2f} s, overhead {:.2f} s), sent {}, received {}",
                        row.seconds, row.max_train_seconds, row.overhead_seconds,
                        fmt_bytes(static_cast<double>(row.bytes_sent)),
                        fmt_bytes(static_cast<double>(row.bytes_received)));
    spdlog::info("{}", line);
    for (const auto& f : record.failures) spdlog::info("  round {}: {}", round, f.reason);
    {
      std::lock_guard lock(board.mutex);
      board.last_round = to_json(row);
      board.last_round["clients_trained"] = metrics.clients_trained;
      board.last_round["failures"] = metrics.failures;
      board.last_round["train_loss"] = std::isfinite(metrics.train_loss) ? nlohmann::json(metrics.train_loss) : nlohmann::json();
      board.last_round["federated_accuracy"] = std::isfinite(metrics.federated_accuracy)
                                                   ? nlohmann::json(metrics.federated_accuracy)
                                                   : nlohmann::json();
    }
  }

  // The final model, usable by `fedsign evaluate RUN_DIR` / `fedsign predict RUN_DIR`.
  fl::set_weights(*model, global);
  models::save_weights(*model, o.out / "model.pt");
  train::save_model_info(o.out / "model.json", {o.model, o.num_classes, o.input_size, o.contrast});

  set_phase(o.rounds, "finished");
  coordinator.shutdown();
  const auto grace_until =
      Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(o.shutdown_grace_s * 1000));
  while (!coordinator.all_told_shutdown() && Clock::now() < grace_until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  grpc_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  spdlog::info("fl server finished {} rounds; outputs in {}", o.rounds, o.out.string());
  return o.rounds;
}

}  // namespace fedsign::net
