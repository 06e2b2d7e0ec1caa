#include "fedsign/serve/service.h"

#include <httplib.h>
#include <opencv2/core/utility.hpp>
#include <spdlog/spdlog.h>

#include <semaphore>

#include "fedsign/core/check.h"
#include "fedsign/net/server_setup.h"
#include "fedsign/net/tokens.h"
#include "fedsign/serve/routes.h"

namespace fedsign::serve {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The route label of a path (a fixed set, so that unknown paths do not grow /metrics).
std::string route_of(const std::string& path) {
  for (const char* route : {"classify", "detect"}) {
    if (path == std::string("/v1/") + route) return route;
  }
  for (const char* route : {"healthz", "readyz", "metrics"}) {
    if (path == std::string("/") + route) return route;
  }
  return "other";
}

void answer_text(httplib::Response& res, int status, const std::string& line) {
  res.status = status;
  res.set_content(line + "\n", "text/plain");
}

}  // namespace

// The state the route handlers share beyond the service's own members.
struct InferenceService::Handlers {
  explicit Handlers(int detect_slots) : detect_gate(detect_slots) {}
  std::counting_semaphore<> detect_gate;
};

InferenceService::InferenceService(const std::filesystem::path& model, ServeOptions options)
    : options_(std::move(options)) {
  FEDSIGN_CHECK(options_.http_threads >= 1, "http threads must be at least 1, got {}",
                options_.http_threads);
  FEDSIGN_CHECK(options_.max_images >= 1, "max images must be at least 1, got {}",
                options_.max_images);
  FEDSIGN_CHECK(options_.tls_cert.empty() == options_.tls_key.empty(),
                "TLS needs both --tls-cert and --tls-key");
  FEDSIGN_CHECK(options_.tls_client_ca.empty() || !options_.tls_cert.empty(),
                "--tls-client-ca needs --tls-cert and --tls-key");
  // The FL server's rule (net/server_setup.h): no clear text beyond loopback unless asked for.
  if (!tls() && !net::is_loopback_address(options_.host)) {
    FEDSIGN_CHECK(options_.insecure,
                  "refusing to serve {} without TLS: tokens and images would cross the network in "
                  "clear text; give --tls-cert/--tls-key, or --insecure on a network you trust",
                  options_.host);
    spdlog::warn("--insecure: serving {} WITHOUT TLS", options_.host);
  }
  // Requests are decoded on the HTTP threads, many at once: OpenCV's own thread pool on top of
  // them would only oversubscribe the cores.
  cv::setNumThreads(1);
  store_ = std::make_unique<ModelStore>(model, options_.precision);
  batcher_ = std::make_unique<MicroBatcher>(options_.batching, *store_, [this](std::int64_t n) {
    metrics_.count_batch(n);
  });
  tokens_ = std::make_unique<net::TokenStore>(options_.tokens_file);
  handlers_ = std::make_unique<Handlers>(batcher_->workers());
  if (tls()) {
    const char* ca = options_.tls_client_ca.empty() ? nullptr : options_.tls_client_ca.c_str();
    auto ssl = std::make_unique<httplib::SSLServer>(options_.tls_cert.c_str(),
                                                    options_.tls_key.c_str(), ca);
    FEDSIGN_CHECK(ssl->is_valid(), "cannot use TLS certificate {} / key {}{}", options_.tls_cert,
                  options_.tls_key, ca ? fmt::format(" / client CA {}", ca) : "");
    server_ = std::move(ssl);
  } else {
    server_ = std::make_unique<httplib::Server>();
  }
  const int http_threads = options_.http_threads;
  server_->new_task_queue = [http_threads] { return new httplib::ThreadPool(http_threads); };
  server_->set_tcp_nodelay(true);  // small answers: no Nagle delay
  server_->set_keep_alive_timeout(options_.keep_alive_seconds);
  server_->set_keep_alive_max_count(static_cast<std::size_t>(options_.keep_alive_max));
  server_->set_payload_max_length(options_.max_body_bytes);
  install_routes();
  port_ = options_.port == 0 ? server_->bind_to_any_port(options_.host)
                             : (server_->bind_to_port(options_.host, options_.port) ? options_.port
                                                                                   : -1);
  FEDSIGN_CHECK(port_ > 0, "cannot listen on {}:{} (in use, or not a local address)",
                options_.host, options_.port);
  if (options_.watch_ms > 0) store_->watch(std::chrono::milliseconds(options_.watch_ms));
}

InferenceService::~InferenceService() {
  stop();
  store_->stop();
}

void InferenceService::start() {
  thread_ = std::thread([this] { run(); });
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!server_->is_running() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  FEDSIGN_CHECK(server_->is_running(), "the HTTP server on port {} did not start", port_);
}

void InferenceService::run() {
  spdlog::info("serving on {}://{}:{} ({} inference workers, max batch {}, max wait {} us)",
               tls() ? "https" : "http", options_.host, port_, batcher_->workers(),
               options_.batching.max_batch, options_.batching.max_wait.count());
  server_->listen_after_bind();
}

void InferenceService::stop() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

void InferenceService::install_routes() {
  using Handler = std::function<std::string(const httplib::Request&)>;
  // Wraps a route: bearer check, errors as one-line answers, metrics.
  auto guarded = [this](const std::string& route, bool needs_token, Handler handler,
                        const char* content_type) {
    return [this, route, needs_token, handler = std::move(handler), content_type](
               const httplib::Request& req, httplib::Response& res) {
      const auto start = std::chrono::steady_clock::now();
      try {
        if (needs_token && tokens_->enabled()) {
          const std::string header = req.get_header_value("Authorization");
          const std::string prefix = "Bearer ";
          const std::string token = header.rfind(prefix, 0) == 0 ? header.substr(prefix.size()) : "";
          const auto status = tokens_->authenticate_bearer(token);
          if (!status.ok()) {
            const bool revoked = status.code == net::Code::kPermissionDenied;
            if (!revoked) res.set_header("WWW-Authenticate", "Bearer");
            throw HttpError(revoked ? 403 : 401, status.message);
          }
        }
        res.set_content(handler(req), content_type);
        res.status = 200;
      } catch (const HttpError& e) {
        if (e.status == 503) res.set_header("Retry-After", "1");
        answer_text(res, e.status, e.what());
      } catch (const std::exception& e) {
        answer_text(res, 500, fmt::format("internal error: {}", e.what()));
        spdlog::error("{} {}: {}", req.method, req.path, e.what());
      }
      metrics_.count_request(route, res.status, seconds_since(start));
    };
  };

  server_->Post("/v1/classify", guarded("classify", true, [this](const httplib::Request& req) {
    return classify(req, options_, *store_, *batcher_);
  }, "application/json"));
  server_->Post("/v1/detect", guarded("detect", true, [this](const httplib::Request& req) {
    return detect(req, options_, *store_, handlers_->detect_gate);
  }, "application/json"));
  server_->Get("/healthz", guarded("healthz", false, [](const httplib::Request&) {
    return std::string("ok\n");
  }, "text/plain"));
  server_->Get("/readyz", guarded("readyz", false, [this](const httplib::Request&) {
    if (batcher_->queued_images() >= options_.batching.max_queue) {
      throw HttpError(503, "inference queue full");
    }
    return fmt::format("ready: model version {}\n", store_->current()->version);
  }, "text/plain"));
  server_->Get("/metrics", guarded("metrics", true, [this](const httplib::Request&) {
    const auto model = store_->current();
    ServeGauges g;
    g.queue_images = batcher_->queued_images();
    g.workers = batcher_->workers();
    g.model_version = model->version;
    g.model_checksum = model->checksum;
    g.model_loaded_at = model->loaded_at;
    g.reloads = store_->reloads();
    g.reload_failures = store_->reload_failures();
    return metrics_.render(g);
  }, "text/plain; version=0.0.4"));

  // Statuses httplib sets itself (404, 413 body too large, 400 malformed HTTP...) get a reason
  // line too; answers our handlers made keep theirs.
  server_->set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    std::string reason = fmt::format("HTTP {}", res.status);
    if (res.status == 404) reason = fmt::format("no route {} {}", req.method, req.path);
    if (res.status == 413) {
      reason = fmt::format("request body larger than {} bytes", options_.max_body_bytes);
    }
    if (res.status == 400) reason = "malformed HTTP request";
    answer_text(res, res.status, reason);
    metrics_.count_request(route_of(req.path), res.status, -1);
    return httplib::Server::HandlerResponse::Handled;
  }));
  server_->set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        answer_text(res, 500, "internal error");
      });
}

}  // namespace fedsign::serve
