#include "fedsign/net/server_setup.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/resource_quota.h>
#include <spdlog/spdlog.h>

#include "fedsign/core/check.h"
#include "fedsign/net/service.h"
#include "fedsign/net/tokens.h"

namespace fedsign::net {

namespace {
std::chrono::milliseconds ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}
}  // namespace

bool is_loopback_address(const std::string& address) {
  if (address.rfind("unix:", 0) == 0) return true;
  std::string host = address;
  if (!host.empty() && host.front() == '[') {  // [v6]:port
    host = host.substr(1, host.find(']') - 1);
  } else if (const auto colon = host.find(':'); colon != std::string::npos && colon == host.rfind(':')) {
    host = host.substr(0, colon);  // host:port (a bare v6 address has several colons)
  }
  return host == "localhost" || host == "::1" || host == "ip6-localhost" || host.rfind("127.", 0) == 0;
}

void check_listen_security(const ServerOptions& o) {
  const bool tls = !o.tls.cert.empty();
  if (!tls && !is_loopback_address(o.address)) {
    FEDSIGN_CHECK(o.insecure,
                  "refusing to serve {} without TLS: tokens and weights would cross the network "
                  "in clear text; give --tls-cert/--tls-key (and --tls-client-ca for mutual TLS), "
                  "or --insecure on a network you trust",
                  o.address);
    spdlog::warn("--insecure: serving {} WITHOUT TLS", o.address);
  } else if (!tls) {
    spdlog::warn("TLS is off: fine on loopback ({}), not beyond it", o.address);
  }
  check_status_address(o.status_address, o.status_remote);
}

void check_status_address(const std::string& address, bool remote) {
  FEDSIGN_CHECK(address.empty() || remote || is_loopback_address(address),
                "the status endpoint {} is plain HTTP: keep it on loopback, or allow it with "
                "--status-remote (and protect it with --status-token-file)", address);
}

std::vector<std::pair<std::string, int>> server_channel_args(const ServerOptions& o) {
  return {
      {GRPC_ARG_HTTP2_BDP_PROBE, 0},  // keep per-stream windows small
      {GRPC_ARG_KEEPALIVE_TIME_MS, o.keepalive_ms},
      {GRPC_ARG_KEEPALIVE_TIMEOUT_MS, o.keepalive_timeout_ms},
      {GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1},
      // Clients ping every 10 s (client_faults.cpp make_channel): accept that, not faster.
      {GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000},
      {GRPC_ARG_HTTP2_MAX_PING_STRIKES, 3},
      {GRPC_ARG_MAX_CONCURRENT_STREAMS, o.max_streams_per_connection},
      // A connection that never completes its handshake is dropped.
      {GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, 10000},
  };
}

void configure_builder(grpc::ServerBuilder& builder, const ServerOptions& o) {
  for (const auto& [name, value] : server_channel_args(o)) builder.AddChannelArgument(name, value);
  builder.SetMaxReceiveMessageSize(static_cast<int>(2 * kMaxChunkBytes + (64 << 10)));
  grpc::ResourceQuota quota("fedsign-server");
  quota.SetMaxThreads(o.max_threads);
  builder.SetResourceQuota(quota);
}

CoordinatorOptions make_coordinator_options(const ServerOptions& o) {
  CoordinatorOptions c;
  c.client_timeout = ms(o.client_timeout_s);
  c.heartbeat = std::chrono::milliseconds(o.heartbeat_ms);
  c.upload_timeout = ms(o.upload_timeout_s);
  c.upload_grace = ms(o.upload_grace_s);
  c.max_examples = o.max_examples;
  return c;
}

ServiceOptions make_service_options(const ServerOptions& o) {
  ServiceOptions s;
  s.model = o.model;
  s.input_size = o.input_size;
  s.num_classes = o.num_classes;
  s.heartbeat = std::chrono::milliseconds(o.heartbeat_ms);
  s.max_update_bytes = o.max_update_bytes;
  s.client_certificates = !o.tls.ca.empty();
  s.header_timeout = ms(o.header_timeout_s);
  s.max_pending_headers = o.max_pending_headers;
  s.update_limits.max_examples = o.max_examples;
  s.update_limits.max_update_norm = o.max_update_norm;
  s.update_limits.clip = o.clip_updates;
  return s;
}

std::unique_ptr<StatusEndpoint> start_status_endpoint(const ServerOptions& o,
                                                      std::function<std::string()> render) {
  return start_status_endpoint(o.status_address, o.status_remote, o.status_token_file,
                               std::move(render));
}

std::unique_ptr<StatusEndpoint> start_status_endpoint(const std::string& address, bool remote,
                                                      const std::string& token_file,
                                                      std::function<std::string()> render) {
  if (address.empty()) return nullptr;
  check_status_address(address, remote);
  std::string token = read_secret(token_file, "FEDSIGN_STATUS_TOKEN");
  return std::make_unique<StatusEndpoint>(address, std::move(render), std::move(token));
}

}  // namespace fedsign::net
