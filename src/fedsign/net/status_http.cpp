#include "fedsign/net/status_http.h"

#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <spdlog/spdlog.h>

#include "fedsign/core/check.h"
#include "fedsign/net/dashboard.h"

namespace fedsign::net {

namespace {
std::string sha256(const std::string& text) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}
}  // namespace

StatusEndpoint::StatusEndpoint(const std::string& address, std::function<std::string()> render,
                               std::string token)
    : server_(std::make_unique<httplib::Server>()) {
  const auto colon = address.rfind(':');
  FEDSIGN_CHECK(colon != std::string::npos, "status address '{}' is not host:port", address);
  const std::string host = address.substr(0, colon);
  const int port = std::stoi(address.substr(colon + 1));
  const std::string expected = token.empty() ? std::string() : sha256("Bearer " + token);
  server_->Get("/status", [render, expected](const httplib::Request& req, httplib::Response& res) {
    if (!expected.empty()) {
      const std::string got = sha256(req.get_header_value("Authorization"));
      if (CRYPTO_memcmp(got.data(), expected.data(), expected.size()) != 0) {
        res.status = 401;
        res.set_header("WWW-Authenticate", "Bearer");
        res.set_content("{\"error\": \"status token required\"}\n", "application/json");
        return;
      }
    }
    res.set_content(render(), "application/json");
  });
  // The dashboard page holds no data (it fetches /status with the token), so it needs none.
  server_->Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Content-Security-Policy",
                   "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                   "connect-src 'self'");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_content(dashboard_page(), "text/html; charset=utf-8");
  });
  server_->set_read_timeout(5, 0);  // a client that never finishes its request is dropped
  server_->set_keep_alive_max_count(10);
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  port_ = port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  FEDSIGN_CHECK(port_ > 0, "cannot listen on {} for the status endpoint", address);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  spdlog::info("dashboard: http://{}:{}/ (JSON: /status){}", host, port_,
               expected.empty() ? "" : " (bearer token required)");
}

StatusEndpoint::~StatusEndpoint() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace fedsign::net
