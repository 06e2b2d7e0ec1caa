// Counters and histograms of `fedsign serve`, rendered in the Prometheus text exposition format
// (version 0.0.4) for GET /metrics: requests by route and status, request latency, forward-pass
// batch sizes; the gauges (queue depth, model version...) are read when rendering.
// Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace fedsign::serve {

// A Prometheus histogram with fixed upper bounds (the +Inf bucket is implicit).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);  // not synchronized: the owner locks
  // `name_bucket{labels,le="..."}` lines plus _sum and _count; labels may be empty.
  void render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // per bucket, not cumulative; last = above all bounds
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

struct ServeGauges {
  std::int64_t queue_images = 0;
  int workers = 0;
  std::uint64_t model_version = 0;
  std::string model_checksum;
  double model_loaded_at = 0;  // Unix seconds
  std::uint64_t reloads = 0, reload_failures = 0;
};

class ServeMetrics {
 public:
  ServeMetrics();
  // route: a fixed name such as "classify" (not the raw path, to bound the label set);
  // seconds < 0: latency unknown, counted but not observed.
  void count_request(const std::string& route, int status, double seconds);
  void count_batch(std::int64_t images);
  std::uint64_t requests(const std::string& route, int status) const;
  std::string render(const ServeGauges& gauges) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;
  std::map<std::string, Histogram> latency_;  // by route
  Histogram batch_sizes_;
};

}  // namespace fedsign::serve
