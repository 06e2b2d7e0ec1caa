// `fedsign fl server`: runs federated rounds over remote clients with the same Strategy objects,
// the same round (fl::Server) and the same outer loop (fl::RunDriver: checkpoint, resume,
// evaluation schedule, metrics, charts) as the simulation; see docs/network.md.
//
// Per round (the driver's RunHooks): wait until `min_available_clients` are connected, run the
// round through the DispatchingStrategy adapter (round_adapter.h), checkpoint, then append
// network.csv and log one line. With a central evaluation function (the CLI makes one from
// --data) the server also reports central accuracy on a held-out split, like the simulation.
#pragma once

#include <filesystem>
#include <string>

#include "fedsign/fl/compress/upload.h"
#include "fedsign/fl/robust/robust_strategy.h"
#include "fedsign/fl/run/driver.h"
#include "fedsign/fl/run/federation.h"

namespace fedsign::net {

// PEM files. Server: cert + key enable TLS; ca additionally requires and verifies client
// certificates (mutual TLS). Client: ca verifies the server; cert + key present a client
// certificate (mutual TLS).
struct TlsFiles {
  std::string cert, key, ca;
  bool enabled() const { return !cert.empty() || !ca.empty(); }
};

struct ServerOptions {
  // The federation (strategy, rounds, sampling, local instructions) and the run (rounds,
  // evaluation schedule, directory, resume, settings), as for the simulation.
  fl::FederationConfig federation;
  fl::RunConfig run;
  // FLTrust's training on the server's root set and the label test's labels of it
  // (fl/run/root_update.h make_server_root; empty unless federation.robust asks for them).
  fl::robust::ServerRoot root;
  // The model the clients train.
  std::string model = "compact";
  int input_size = 32;
  int num_classes = 43;
  double dropout = -1.0;
  std::string contrast = "clahe";  // recorded in model.json (clients must load data alike)
  // The network.
  std::string address = "127.0.0.1:7070";
  double round_deadline_s = 600;
  double client_timeout_s = 20;  // no call for this long: the client is dropped
  int heartbeat_ms = 2000;
  double start_timeout_s = 600;  // waiting for min_available_clients before a round
  std::string tokens_file;
  TlsFiles tls;
  std::string status_address;  // host:port of the HTTP JSON status endpoint; empty: off
  int64_t max_update_bytes = 0;
  double shutdown_grace_s = 8;  // after the last round, time for clients to hear SHUTDOWN
  // Secure aggregation (round_adapter.h, docs/privacy.md): needs federation.dp_mode
  // "distributed".
  // Compressed uploads asked of every FIT client (upload_codec.h): "none", "int8" or "topk".
  fl::compress::CompressOptions compress;
  // Dtype of the model in FIT/EVALUATE tasks: "float32" or "bf16" (half the download bytes).
  std::string download = "float32";
  bool secagg = false;
  double secagg_threshold = 0.5;
  double secagg_step_timeout_s = 60;

  // ---- hardening (docs/security.md; server_setup.h applies these)
  bool insecure = false;            // allow plaintext on a non-loopback address
  bool status_remote = false;       // allow --status-address on a non-loopback address
  std::string status_token_file;    // /status needs "Authorization: Bearer <token>" (or
                                    // $FEDSIGN_STATUS_TOKEN); empty and no env: open
  double header_timeout_s = 10;     // a result stream must send its header within this
  double upload_timeout_s = 120;    // an upload must finish within this of its start ...
  double upload_grace_s = 10;       // ... and within this after the round deadline
  int64_t max_examples = 1000000;   // largest example count a client may declare/claim
  double max_update_norm = -1;      // L2 bound on update - global; < 0 auto (10x), 0 off
  bool clip_updates = false;        // beyond the bound: clip instead of reject
  int max_threads = 256;            // gRPC server threads (ResourceQuota)
  int max_streams_per_connection = 8;  // HTTP/2 concurrent streams per client connection
  int max_pending_headers = 32;     // result streams waiting for their header, at once
  int keepalive_ms = 20000;         // server pings an idle connection this often ...
  int keepalive_timeout_ms = 10000; // ... and drops it when no answer comes within this
};

// Runs all rounds; returns the number of rounds completed. `evaluate` is the central
// evaluation (may be empty). Throws fedsign::Error for bad options, a missing checkpoint on
// resume, or too few clients within start_timeout_s.
int64_t run_server(const ServerOptions& options, fl::CentralEvaluateFn evaluate = {});

}  // namespace fedsign::net
