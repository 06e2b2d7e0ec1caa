// `fedsign serve`: an HTTP inference service over a trained (or federated) model.
//
//   POST /v1/classify  one image as the body (PNG, JPEG, PPM...; ?roi=x1,y1,x2,y2 crops it,
//                      ?top_k=K), or a batch as multipart/form-data with one `image` part per
//                      image (and optional `roi` parts, one per image, in the same order)
//   POST /v1/detect    one street image as the body: boxes with classes and scores
//   GET  /healthz      the process is up;  GET /readyz: a model is loaded and the queue has room
//   GET  /metrics      Prometheus text format (see metrics.h)
//
// Answers are JSON and carry the model version that produced them. Classification goes through
// the MicroBatcher; the model hot-reloads through the ModelStore. Errors answer one-line text:
// 400 bad image/ROI/parameter, 401/403 bearer token, 413 body or batch too large, 503 queue full.
// An exception in a handler becomes a 500, never a crash.
//
// TLS (--tls-cert/--tls-key, optionally --tls-client-ca for mutual TLS) and bearer tokens
// (--tokens, the FL server's file format: any listed, unrevoked token is accepted) guard the
// /v1 routes and /metrics; /healthz and /readyz stay open for probes. As for `fl server`, a
// non-loopback host without TLS is refused unless `insecure`.
//
// Thread-safe; owns its threads (HTTP pool, inference workers, model watcher) and stops them on
// destruction.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "fedsign/experiments/detector.h"
#include "fedsign/serve/batcher.h"
#include "fedsign/serve/metrics.h"
#include "fedsign/serve/model_store.h"

namespace httplib {
class Server;
}
namespace fedsign::net {
class TokenStore;
}

namespace fedsign::serve {

struct ServeOptions {
  std::string host = "127.0.0.1";  // loopback unless asked otherwise
  int port = 8080;                 // 0: any free port (see InferenceService::port)
  int http_threads = 128;          // connections served at once (a keep-alive client holds one)
  int keep_alive_seconds = 5;
  int keep_alive_max = 10000;      // requests per connection
  std::size_t max_body_bytes = 16u << 20;
  int max_images = 256;            // per classify request
  int top_k = 3;                   // default of ?top_k
  std::string precision = "auto";  // auto | fp32 | bf16 | int8 (auto: bf16 + channels-last if native)
  BatcherOptions batching;
  int watch_ms = 1000;             // model file poll interval; 0: no hot reload
  std::string tokens_file;         // bearer tokens (net/tokens.h format); empty: none required
  std::string tls_cert, tls_key, tls_client_ca;
  bool insecure = false;           // allow a non-loopback host without TLS (as `fl server`)
  experiments::DetectorOptions detector;
};

class InferenceService {
 public:
  // Loads the model and binds the port; throws fedsign::Error (bad model, port taken, TLS files,
  // plain HTTP on a non-loopback host without `insecure`).
  InferenceService(const std::filesystem::path& model, ServeOptions options);
  ~InferenceService();
  InferenceService(const InferenceService&) = delete;
  InferenceService& operator=(const InferenceService&) = delete;

  int port() const { return port_; }
  bool tls() const { return !options_.tls_cert.empty(); }
  void start();  // serves on a background thread
  void run();    // serves on the calling thread until stop()
  void stop();

  ModelStore& models() { return *store_; }
  MicroBatcher& batcher() { return *batcher_; }
  const ServeMetrics& metrics() const { return metrics_; }

 private:
  struct Handlers;
  void install_routes();

  ServeOptions options_;
  ServeMetrics metrics_;
  std::unique_ptr<ModelStore> store_;
  std::unique_ptr<MicroBatcher> batcher_;
  std::unique_ptr<net::TokenStore> tokens_;
  std::unique_ptr<Handlers> handlers_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace fedsign::serve
