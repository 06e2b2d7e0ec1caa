// Load generator for `fedsign serve` (bench/serve_load.sh runs it), and the in-process baseline
// it is compared with. Bounded: a fixed number of seconds per measurement, loopback only.
//
//   serve_load http --port P --concurrency C --seconds S [--label L] IMAGE...
//       C client threads, each with its own keep-alive connection, POST one image per request
//       to /v1/classify (images in turn) for S seconds after a 0.5 s warm-up. Prints one
//       Markdown row: label | C | requests | failed | p50 ms | p99 ms | images/s | versions.
//   serve_load inprocess --model M [--precision auto] [--threads 0] [--seconds S] IMAGE...
//       What `fedsign predict` does in process, through the same train::Predictor: one image
//       (decode + forward) at a time, and batches of 64 (decode 64 + one forward pass).
//       Prints Markdown rows in the same columns.
#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fedsign/core/allocator.h"
#include "fedsign/train/predictor.h"
#include "fedsign/train/trainer.h"

using namespace fedsign;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  std::string mode, model, label, precision = "auto";
  int port = 8080, concurrency = 1, threads = 0;
  double seconds = 5;
  std::vector<std::string> images;
};

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5)];
}

std::string read_bytes(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void print_row(const std::string& label, int concurrency, std::size_t requests, int failed,
               const std::vector<double>& ms, double images_per_s, const std::string& versions) {
  std::printf("| %s | %d | %zu | %d | %.2f | %.2f | %.0f | %s |\n", label.c_str(), concurrency,
              requests, failed, percentile(ms, 0.5), percentile(ms, 0.99), images_per_s,
              versions.c_str());
  std::fflush(stdout);
}

int run_http(const Args& a) {
  std::vector<std::string> bodies;
  for (const auto& f : a.images) bodies.push_back(read_bytes(f));
  std::atomic<bool> measuring{false}, stop{false};
  std::mutex mutex;
  std::vector<double> latencies_ms;
  std::map<int, std::size_t> versions;
  int failed = 0;
  std::vector<std::thread> clients;
  for (int t = 0; t < a.concurrency; ++t) {
    clients.emplace_back([&, t] {
      httplib::Client http("127.0.0.1", a.port);
      http.set_keep_alive(true);
      http.set_tcp_nodelay(true);
      http.set_read_timeout(std::chrono::seconds(30));
      std::vector<double> mine;
      std::map<int, std::size_t> my_versions;
      int my_failed = 0;
      for (std::size_t i = static_cast<std::size_t>(t); !stop; i += a.concurrency) {
        const auto start = Clock::now();
        const auto res = http.Post("/v1/classify", bodies[i % bodies.size()], "image/png");
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        if (!measuring) continue;
        if (!res || res->status != 200) {
          ++my_failed;
          if (my_failed <= 3) {
            std::fprintf(stderr, "failed: %s\n",
                         res ? (std::to_string(res->status) + " " + res->body).c_str()
                             : httplib::to_string(res.error()).c_str());
          }
          continue;
        }
        mine.push_back(ms);
        const auto body = nlohmann::json::parse(res->body, nullptr, false);
        if (!body.is_discarded()) ++my_versions[body["model"]["version"].get<int>()];
      }
      std::lock_guard lock(mutex);
      latencies_ms.insert(latencies_ms.end(), mine.begin(), mine.end());
      for (auto [v, n] : my_versions) versions[v] += n;
      failed += my_failed;
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // connect, warm up
  measuring = true;
  const auto start = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(a.seconds));
  measuring = false;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  stop = true;
  for (auto& c : clients) c.join();
  std::string seen;
  for (auto [v, n] : versions) seen += (seen.empty() ? "" : ", ") + std::to_string(v);
  print_row(a.label, a.concurrency, latencies_ms.size() + failed, failed, latencies_ms,
            static_cast<double>(latencies_ms.size()) / elapsed, seen);
  return failed == 0 ? 0 : 3;
}

int run_inprocess(const Args& a) {
  train::configure_threads(a.threads);
  const train::Predictor predictor(train::load_model_bundle(a.model), a.precision);
  std::vector<std::string> bodies;
  for (const auto& f : a.images) bodies.push_back(read_bytes(f));
  const std::size_t bytes = predictor.image_bytes();
  for (int batch : {1, 64}) {
    std::vector<std::uint8_t> pixels(bytes * batch);
    std::vector<double> ms;
    std::size_t images = 0, next = 0;
    const auto start = Clock::now();
    const auto warm_until = start + std::chrono::milliseconds(300);
    auto measured_from = start;
    bool measuring = false;
    while (!measuring || std::chrono::duration<double>(Clock::now() - measured_from).count() < a.seconds) {
      if (!measuring && Clock::now() >= warm_until) {
        measuring = true;
        measured_from = Clock::now();
      }
      const auto t0 = Clock::now();
      for (int i = 0; i < batch; ++i, ++next) {
        const auto& b = bodies[next % bodies.size()];
        const auto problem = predictor.decode(reinterpret_cast<const std::uint8_t*>(b.data()),
                                              b.size(), pixels.data() + i * bytes);
        if (!problem.empty()) {
          std::fprintf(stderr, "%s\n", problem.c_str());
          return 2;
        }
      }
      predictor.classify(pixels.data(), batch, 3);
      if (measuring) {
        ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        images += batch;
      }
    }
    const double elapsed = std::chrono::duration<double>(Clock::now() - measured_from).count();
    print_row(fmt::format("in-process predict, batch {} (decode + forward)", batch), 1, ms.size(),
              0, ms, static_cast<double>(images) / elapsed, "-");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  fedsign::keep_freed_memory_mapped();  // as the fedsign CLI does (core/allocator.h)
  Args a;
  if (argc > 1) a.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&] { return i + 1 < argc ? std::string(argv[++i]) : std::string(); };
    if (arg == "--port") a.port = std::stoi(value());
    else if (arg == "--concurrency") a.concurrency = std::stoi(value());
    else if (arg == "--seconds") a.seconds = std::stod(value());
    else if (arg == "--label") a.label = value();
    else if (arg == "--model") a.model = value();
    else if (arg == "--precision") a.precision = value();
    else if (arg == "--threads") a.threads = std::stoi(value());
    else a.images.push_back(arg);
  }
  if ((a.mode != "http" && a.mode != "inprocess") || a.images.empty() ||
      (a.mode == "inprocess" && a.model.empty()) || a.seconds <= 0 || a.seconds > 60 ||
      a.concurrency < 1 || a.concurrency > 256) {
    std::fprintf(stderr,
                 "usage: serve_load http --port P --concurrency C (1-256) --seconds S (<= 60) "
                 "[--label L] IMAGE...\n"
                 "       serve_load inprocess --model M [--precision auto] [--threads 0] "
                 "[--seconds S] IMAGE...\n");
    return 2;
  }
  try {
    return a.mode == "http" ? run_http(a) : run_inprocess(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "serve_load: %s\n", e.what());
    return 1;
  }
}
