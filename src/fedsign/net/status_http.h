// A run's HTTP status endpoint (cpp-httplib): GET / is the live dashboard (dashboard.h), GET
// /status returns
// {"round", "rounds", "phase", "clients": [...], "last_round": {...}, "rejected", "bytes_sent",
// "bytes_received"}; GET /healthz returns "ok". With a token, /status answers 401 unless the
// request carries "Authorization: Bearer <token>" (compared in constant time). Runs on its own
// thread. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace fedsign::net {

class StatusEndpoint {
 public:
  // `render` builds the JSON document on every request.
  StatusEndpoint(const std::string& address, std::function<std::string()> render,
                 std::string token = {});
  ~StatusEndpoint();
  int port() const { return port_; }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace fedsign::net
