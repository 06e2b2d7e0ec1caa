// The `fl server` / `fl client` options that harden a federation against broken and hostile
// clients (docs/security.md): declared here once so the commands add them with one call.
#pragma once

#include <CLI/CLI.hpp>

#include "fedsign/net/client.h"
#include "fedsign/net/server.h"

namespace fedsign::cli {

void add_server_hardening_options(CLI::App& cmd, net::ServerOptions& options);
// --status-address, --status-remote, --status-token-file: the live dashboard and /status, for
// `fl server` and `fl simulate` alike.
void add_status_options(CLI::App& cmd, std::string& address, bool& remote, std::string& token_file);
void add_client_hardening_options(CLI::App& cmd, net::ClientOptions& options);

}  // namespace fedsign::cli
