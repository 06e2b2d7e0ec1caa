// `fedsign fl server`: runs federated rounds over remote clients with the same Strategy objects
// and the same round loop (fl::Server) as the simulation; see docs/network.md.
//
// Per round: wait until `min_clients` are connected, run fl::Server::run_round through the
// DispatchingStrategy adapter (round_adapter.h), log one line, append metrics.csv /
// network.csv, and checkpoint atomically (fl::save_server_checkpoint) so --resume continues
// after a crash without losing a completed round.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "fedsign/fl/strategy.h"

namespace fedsign::net {

// PEM files. Server: cert + key enable TLS; ca additionally requires and verifies client
// certificates (mutual TLS). Client: ca verifies the server; cert + key present a client
// certificate (mutual TLS).
struct TlsFiles {
  std::string cert, key, ca;
  bool enabled() const { return !cert.empty() || !ca.empty(); }
};

struct ServerOptions {
  std::string address = "127.0.0.1:7070";
  std::string strategy = "fedavg";
  std::map<std::string, double> strategy_params;
  fl::StrategyOptions strategy_options;  // fit_config carries local_epochs, lr, ...
  std::string model = "compact";
  int input_size = 32;
  int num_classes = 43;
  double dropout = -1.0;
  std::string contrast = "clahe";  // recorded in model.json (clients must load data alike)
  uint64_t seed = 42;  // initial weights
  int64_t rounds = 3;
  int64_t min_clients = 2;   // connected clients needed to start a round
  int64_t min_results = 1;   // updates needed to aggregate; fewer: the model is kept
  int64_t eval_every = 1;    // federated evaluation every k rounds (and the last)
  double round_deadline_s = 600;
  double client_timeout_s = 20;  // no call for this long: the client is dropped
  int heartbeat_ms = 2000;
  double start_timeout_s = 600;  // waiting for min_clients
  std::string tokens_file;
  TlsFiles tls;
  std::filesystem::path out = "runs/fl-server";
  bool resume = false;
  std::string status_address;  // host:port of the HTTP JSON status endpoint; empty: off
  int64_t max_update_bytes = 0;
  double shutdown_grace_s = 8;  // after the last round, time for clients to hear SHUTDOWN
};

// Runs all rounds; returns the number of rounds completed. Throws fedsign::Error for bad
// options, a missing checkpoint on --resume, or too few clients within start_timeout_s.
int64_t run_server(const ServerOptions& options);

}  // namespace fedsign::net
