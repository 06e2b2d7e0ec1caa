// `fedsign serve RUN_OR_MODEL`: the HTTP inference service (src/fedsign/serve/service.h) until
// SIGINT or SIGTERM. Point it at the FL server's output directory (or its model.pt) and it
// reloads each round's global model as the server writes it.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

#include "commands.h"
#include "fedsign/serve/service.h"

namespace fedsign::cli {

namespace {
struct ServeCommand {
  std::string model;
  serve::ServeOptions options;
  int max_wait_us = 2000;
};

void run(ServeCommand& c) {
  // Decoding a hostile image must not take the memory of the machine: OpenCV refuses images
  // above this many pixels (its default allows 2^30). Only set if the operator did not.
  ::setenv("OPENCV_IO_MAX_IMAGE_PIXELS", "67108864", 0);
  c.options.batching.max_wait = std::chrono::microseconds(c.max_wait_us);
  // Block the stop signals in every thread the service starts; this one waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  serve::InferenceService service(c.model, c.options);
  service.start();
  std::printf("fedsign serve: listening on %s://%s:%d\n", service.tls() ? "https" : "http",
              c.options.host.c_str(), service.port());
  std::fflush(stdout);
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("signal {}: stopping", signal_number);
  service.stop();
}
}  // namespace

void add_serve_command(CLI::App& app, Actions& actions) {
  auto c = std::make_shared<ServeCommand>();
  auto& o = c->options;
  CLI::App* cmd = add_command(app, "serve",
                              "HTTP inference service: classify / detect, micro-batching, model "
                              "hot reload, Prometheus metrics");
  cmd->add_option("model", c->model, "run directory or model .pt file (watched for new versions)")
      ->required();
  cmd->add_option("--host", o.host, "address to listen on (loopback by default)")
      ->capture_default_str();
  cmd->add_option("--port", o.port, "port (0: any free port, printed at start)")
      ->capture_default_str();
  cmd->add_option("--http-threads", o.http_threads,
                  "HTTP connections served at once (each keep-alive client holds one)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--keep-alive", o.keep_alive_seconds, "idle seconds before a connection closes")
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", o.max_body_bytes, "larger request bodies answer 413")
      ->capture_default_str();
  cmd->add_option("--max-images", o.max_images, "images per classify request (more: 413)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--top-k", o.top_k, "classes per image unless ?top_k= says otherwise")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--precision", o.precision,
                  "auto (bf16 + channels-last where native), fp32, bf16, or int8 (compact models "
                  "after `fedsign quantize`; a new model.pt needs new ranges)")
      ->check(CLI::IsMember({"auto", "fp32", "bf16", "int8"}))
      ->capture_default_str();
  cmd->add_option("--max-batch", o.batching.max_batch,
                  "images per forward pass (1: no micro-batching)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-wait-us", c->max_wait_us,
                  "longest wait for more requests to batch, while some are being decoded")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--max-queue", o.batching.max_queue, "images waiting at most (more: 503)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--workers", o.batching.workers, "inference threads (0: one per core)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--threads", o.batching.threads_per_worker, "LibTorch threads per worker")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--watch-ms", o.watch_ms, "model file poll interval (0: no hot reload)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--tokens", o.tokens_file,
                  "bearer tokens file ('<name> <token> [revoked]' lines, as for fl server)");
  cmd->add_option("--tls-cert", o.tls_cert, "server certificate (PEM): enables HTTPS");
  cmd->add_option("--tls-key", o.tls_key, "server private key (PEM)");
  cmd->add_option("--tls-client-ca", o.tls_client_ca,
                  "CA (PEM) that signs client certificates: requires them (mutual TLS)");
  cmd->add_flag("--insecure", o.insecure,
                "allow a non-loopback --host without TLS (clear text!)");
  cmd->add_option("--threshold", o.detector.threshold, "detect: reject candidates below this")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--nms-iou", o.detector.nms_iou, "detect: IoU of non-maximum suppression")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--min-side", o.detector.regions.min_side,
                  "detect: smallest candidate side in pixels")
      ->capture_default_str();
  actions[cmd] = [c] { run(*c); };
}

}  // namespace fedsign::cli
