// DP-FedAvg's modes and the client's side of distributed DP: clip, then add its share of the
// noise (dp_fedavg.h). The update arithmetic itself is fl/update.h's.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>

#include "fedsign/core/check.h"
#include "fedsign/fl/privacy/dp_fedavg.h"
#include "fedsign/fl/update.h"

namespace fedsign::fl::privacy {

DpMode parse_dp_mode(const std::string& name) {
  if (name == "central") return DpMode::kCentral;
  if (name == "distributed") return DpMode::kDistributed;
  FEDSIGN_FAIL("unknown DP mode '{}' (central or distributed)", name);
}

std::string to_string(DpMode mode) {
  return mode == DpMode::kCentral ? "central" : "distributed";
}

Weights client_privatize(const Weights& global, const Weights& local, const Config& config,
                         uint64_t noise_seed, Metrics* metrics) {
  if (get_string(config, dp_keys::kMode, "") != "distributed") return local;
  const double clip = get_double(config, dp_keys::kClip, 0.0);
  const double stddev = get_double(config, dp_keys::kClientNoise, 0.0);
  FEDSIGN_CHECK(clip > 0 && stddev >= 0, "DP round config: clip {} and noise stddev {}", clip,
                stddev);
  double norm = 0;
  const Weights clipped = clip_delta(model_delta(global, local), clip, &norm);
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
