// The hardening parts of `fedsign fl server`'s setup, kept apart from the round loop
// (server.cpp) so each is one call there: refusing plaintext on a reachable address, the gRPC
// builder's limits (threads, streams, keepalive, message size), the status endpoint (loopback
// unless allowed, optional bearer token), and the service/coordinator options derived from
// ServerOptions. See docs/security.md for why each limit exists.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fedsign/net/coordinator.h"
#include "fedsign/net/server.h"
#include "fedsign/net/status_http.h"

namespace grpc {
class ServerBuilder;
}

namespace fedsign::net {

// True for 127.0.0.0/8, ::1, localhost and unix: sockets ("host:port", "[v6]:port").
bool is_loopback_address(const std::string& address);

// Throws fedsign::Error (naming TLS and --insecure) for a plaintext server on a non-loopback
// address unless options.insecure; warns for plaintext otherwise. Also refuses a status
// endpoint on a non-loopback address unless options.status_remote.
void check_listen_security(const ServerOptions& options);

// The channel arguments (name, value) configure_builder sets: keepalive pings (a vanished peer
// is dropped within keepalive + timeout, not gRPC's 2 h), the client ping rate accepted,
// concurrent streams per connection, the handshake timeout.
std::vector<std::pair<std::string, int>> server_channel_args(const ServerOptions& options);

// Applies server_channel_args, a ResourceQuota bounding server threads, and the message size.
void configure_builder(grpc::ServerBuilder& builder, const ServerOptions& options);

CoordinatorOptions make_coordinator_options(const ServerOptions& options);
struct ServiceOptions;
ServiceOptions make_service_options(const ServerOptions& options);

// The status endpoint, or null when options.status_address is empty. The token comes from
// options.status_token_file or $FEDSIGN_STATUS_TOKEN.
std::unique_ptr<StatusEndpoint> start_status_endpoint(const ServerOptions& options,
                                                      std::function<std::string()> render);
// Refuses a non-empty, non-loopback status address unless `remote` (plain HTTP).
void check_status_address(const std::string& address, bool remote);
// The same for any run (`fl simulate` too): null when `address` is empty; refuses a
// non-loopback address unless `remote` (the endpoint is plain HTTP).
std::unique_ptr<StatusEndpoint> start_status_endpoint(const std::string& address, bool remote,
                                                      const std::string& token_file,
                                                      std::function<std::string()> render);

}  // namespace fedsign::net
