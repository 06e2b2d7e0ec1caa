// The `fl server` / `fl client` options that harden a federation against broken and hostile
// clients (docs/security.md): declared here once so the commands add them with one call.
#pragma once

#include <CLI/CLI.hpp>

#include "fedsign/net/client.h"
#include "fedsign/net/server.h"

namespace fedsign::cli {

void add_server_hardening_options(CLI::App& cmd, net::ServerOptions& options);
void add_client_hardening_options(CLI::App& cmd, net::ClientOptions& options);

}  // namespace fedsign::cli
