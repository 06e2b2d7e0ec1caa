#include "fedsign/serve/metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace fedsign::serve {

namespace {
const std::vector<double> kLatencyBounds = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                            0.1,    0.2,   0.5,   1,     2,    5};
const std::vector<double> kBatchBounds = {1, 2, 4, 8, 16, 32, 64, 128, 256};
}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  const auto bucket = std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  ++counts_[static_cast<std::size_t>(bucket)];
  sum_ += value;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name,
                       const std::string& labels) const {
  const std::string sep = labels.empty() ? "" : ",";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, bounds_[i], cumulative);
  }
  out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, count_);
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, braces, sum_, name, braces, count_);
}

ServeMetrics::ServeMetrics() : batch_sizes_(kBatchBounds) {}

void ServeMetrics::count_request(const std::string& route, int status, double seconds) {
  std::lock_guard lock(mutex_);
  ++requests_[{route, status}];
  if (seconds < 0) return;  // unknown (answered by the HTTP library itself)
  auto it = latency_.find(route);
  if (it == latency_.end()) it = latency_.emplace(route, Histogram(kLatencyBounds)).first;
  it->second.observe(seconds);
}

void ServeMetrics::count_batch(std::int64_t images) {
  std::lock_guard lock(mutex_);
  batch_sizes_.observe(static_cast<double>(images));
}

std::uint64_t ServeMetrics::requests(const std::string& route, int status) const {
  std::lock_guard lock(mutex_);
  const auto it = requests_.find({route, status});
  return it == requests_.end() ? 0 : it->second;
}

std::string ServeMetrics::render(const ServeGauges& g) const {
  std::string out;
  std::lock_guard lock(mutex_);
  out += "# HELP fedsign_serve_requests_total HTTP requests answered, by route and status.\n"
         "# TYPE fedsign_serve_requests_total counter\n";
  for (const auto& [key, n] : requests_) {
    out += fmt::format("fedsign_serve_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", key.first,
                       key.second, n);
  }
  out += "# HELP fedsign_serve_request_seconds Time from request received to answer ready.\n"
         "# TYPE fedsign_serve_request_seconds histogram\n";
  for (const auto& [route, histogram] : latency_) {
    histogram.render(out, "fedsign_serve_request_seconds", fmt::format("route=\"{}\"", route));
  }
  out += "# HELP fedsign_serve_batch_images Images per forward pass of the classifier.\n"
         "# TYPE fedsign_serve_batch_images histogram\n";
  batch_sizes_.render(out, "fedsign_serve_batch_images", "");
  out += fmt::format(
      "# HELP fedsign_serve_queue_images Images waiting for an inference worker.\n"
      "# TYPE fedsign_serve_queue_images gauge\n"
      "fedsign_serve_queue_images {}\n"
      "# HELP fedsign_serve_workers Inference worker threads.\n"
      "# TYPE fedsign_serve_workers gauge\n"
      "fedsign_serve_workers {}\n"
      "# HELP fedsign_serve_model_version Version of the served model (1 at start, +1 per reload).\n"
      "# TYPE fedsign_serve_model_version gauge\n"
      "fedsign_serve_model_version{{checksum=\"{}\"}} {}\n"
      "# HELP fedsign_serve_model_loaded_timestamp_seconds When the served model was loaded.\n"
      "# TYPE fedsign_serve_model_loaded_timestamp_seconds gauge\n"
      "fedsign_serve_model_loaded_timestamp_seconds {:.3f}\n"
      "# HELP fedsign_serve_model_reloads_total Successful model reloads.\n"
      "# TYPE fedsign_serve_model_reloads_total counter\n"
      "fedsign_serve_model_reloads_total {}\n"
      "# HELP fedsign_serve_model_reload_failures_total Model files that failed to load.\n"
      "# TYPE fedsign_serve_model_reload_failures_total counter\n"
      "fedsign_serve_model_reload_failures_total {}\n",
      g.queue_images, g.workers, g.model_checksum, g.model_version, g.model_loaded_at, g.reloads,
      g.reload_failures);
  return out;
}

}  // namespace fedsign::serve
