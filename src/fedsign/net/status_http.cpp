#include "fedsign/net/status_http.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "fedsign/core/check.h"

namespace fedsign::net {

StatusEndpoint::StatusEndpoint(const std::string& address, std::function<std::string()> render)
    : server_(std::make_unique<httplib::Server>()) {
  const auto colon = address.rfind(':');
  FEDSIGN_CHECK(colon != std::string::npos, "status address '{}' is not host:port", address);
  const std::string host = address.substr(0, colon);
  const int port = std::stoi(address.substr(colon + 1));
  server_->Get("/status", [render](const httplib::Request&, httplib::Response& res) {
    res.set_content(render(), "application/json");
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  port_ = port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  FEDSIGN_CHECK(port_ > 0, "cannot listen on {} for the status endpoint", address);
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  spdlog::info("status endpoint: http://{}:{}/status", host, port_);
}

StatusEndpoint::~StatusEndpoint() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace fedsign::net
