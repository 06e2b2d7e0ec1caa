// Update arithmetic of DP-FedAvg (dp_fedavg.h): deltas, norms, clipping, and the client's
// share of distributed noise.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>

#include "fedsign/core/check.h"
#include "fedsign/fl/privacy/dp_fedavg.h"

namespace fedsign::fl::privacy {

DpMode parse_dp_mode(const std::string& name) {
  if (name == "central") return DpMode::kCentral;
  if (name == "distributed") return DpMode::kDistributed;
  FEDSIGN_FAIL("unknown DP mode '{}' (central or distributed)", name);
}

std::string to_string(DpMode mode) {
  return mode == DpMode::kCentral ? "central" : "distributed";
}

double update_norm(const Weights& delta) {
  double sq = 0;
  for (const auto& t : delta.tensors) {
    if (t.is_floating_point()) sq += t.to(torch::kFloat64).pow(2).sum().item<double>();
  }
  return std::sqrt(sq);
}

Weights clip_update(const Weights& delta, double clip, double* norm) {
  FEDSIGN_CHECK(clip > 0, "clipping bound {} must be > 0", clip);
  const double n = update_norm(delta);
  if (norm != nullptr) *norm = n;
  if (n <= clip) return delta;
  return scale(delta, clip / n);  // scale() keeps integer tensors (zeros here) as they are
}

Weights model_delta(const Weights& local, const Weights& global) {
  check_same_layout(local, global, "DP update");
  Weights out;
  out.names = global.names;
  for (std::size_t i = 0; i < global.size(); ++i) {
    const auto& g = global.tensors[i];
    out.tensors.push_back(g.is_floating_point() ? local.tensors[i] - g : torch::zeros_like(g));
  }
  return out;
}

Weights client_privatize(const Weights& global, const Weights& local, const Config& config,
                         uint64_t noise_seed, Metrics* metrics) {
  if (get_string(config, dp_keys::kMode, "") != "distributed") return local;
  const double clip = get_double(config, dp_keys::kClip, 0.0);
  const double stddev = get_double(config, dp_keys::kClientNoise, 0.0);
  FEDSIGN_CHECK(clip > 0 && stddev >= 0, "DP round config: clip {} and noise stddev {}", clip,
                stddev);
  double norm = 0;
  const Weights clipped = clip_update(model_delta(local, global), clip, &norm);
  if (metrics != nullptr) (*metrics)[dp_keys::kUnclipped] = norm <= clip ? 1.0 : 0.0;
  at::Generator gen = at::detail::createCPUGenerator(noise_seed);
  Weights out;
  out.names = global.names;
  for (std::size_t i = 0; i < global.size(); ++i) {
    const auto& g = global.tensors[i];
    if (!g.is_floating_point()) {
      out.tensors.push_back(g);  // step counters would tell the server the local data size
      continue;
    }
    torch::Tensor d = clipped.tensors[i].to(torch::kFloat64);
    if (stddev > 0) d = d + torch::randn(g.sizes(), gen, torch::kFloat64) * stddev;
    out.tensors.push_back((g.to(torch::kFloat64) + d).to(g.scalar_type()));
  }
  return out;
}

}  // namespace fedsign::fl::privacy
