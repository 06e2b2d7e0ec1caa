#include "net_hardening_options.h"

#include "fl_options.h"

namespace fedsign::cli {

void add_status_options(CLI::App& cmd, std::string& address, bool& remote,
                        std::string& token_file) {
  cmd.add_option("--status-address", address,
                 "host:port for the live dashboard (GET /) and its JSON (GET /status), e.g. "
                 "127.0.0.1:8080; empty: off")
      ->group(kNetworkGroup);
  cmd.add_flag("--status-remote", remote, "allow --status-address on a non-loopback address")
      ->group(kNetworkGroup);
  cmd.add_option("--status-token-file", token_file,
                 "file whose first line is the bearer token /status requires (or "
                 "$FEDSIGN_STATUS_TOKEN); the dashboard takes it as #token=... in its address")
      ->group(kNetworkGroup);
}

void add_server_hardening_options(CLI::App& cmd, net::ServerOptions& o) {
  cmd.add_flag("--insecure", o.insecure,
               "allow serving a non-loopback --address without TLS (clear text!)")->group(kNetworkGroup);
  add_status_options(cmd, o.status_address, o.status_remote, o.status_token_file);
  cmd.add_option("--header-timeout", o.header_timeout_s,
                 "seconds a result stream may take to send its header")
      ->capture_default_str()->group(kNetworkGroup);
  cmd.add_option("--upload-timeout", o.upload_timeout_s,
                 "seconds an upload may take from its header (then it is cancelled)")
      ->capture_default_str()->group(kNetworkGroup);
  cmd.add_option("--upload-grace", o.upload_grace_s,
                 "seconds an upload begun before the round deadline may run past it")
      ->capture_default_str()->group(kNetworkGroup);
  cmd.add_option("--max-examples", o.max_examples,
                 "largest example count a client may declare or claim (caps FedAvg weights)")
      ->capture_default_str()->group(kNetworkGroup);
  cmd.add_option("--max-update-norm", o.max_update_norm,
                 "L2 bound on a client's change to the model (< 0: 10x the model's norm, 0: off)")
      ->capture_default_str()->group(kNetworkGroup);
  cmd.add_flag("--clip-updates", o.clip_updates,
               "scale updates beyond --max-update-norm down to it instead of rejecting them")->group(kNetworkGroup);
  cmd.add_option("--max-threads", o.max_threads, "gRPC server threads at most")
      ->capture_default_str()->group(kNetworkGroup);
  cmd.add_option("--max-streams-per-connection", o.max_streams_per_connection,
                 "concurrent calls per client connection")
      ->capture_default_str()->group(kNetworkGroup);
  cmd.add_option("--max-pending-headers", o.max_pending_headers,
                 "result streams that may wait for their header at once")
      ->capture_default_str()->group(kNetworkGroup);
}

void add_client_hardening_options(CLI::App& cmd, net::ClientOptions& o) {
  cmd.add_option("--max-model-bytes", o.max_model_bytes,
                 "largest task model accepted from the server, in bytes")
      ->capture_default_str()->group(kNetworkGroup);
}

}  // namespace fedsign::cli
