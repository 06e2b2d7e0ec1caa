#include "fedsign/fl/privacy/secagg_update.h"

#include <torch/torch.h>

#include <cmath>

#include "fedsign/core/check.h"
#include "fedsign/fl/update.h"

namespace fedsign::fl::privacy {

namespace {
// A number the round's config must carry (messages.h's get_double, with its absence refused).
double config_number(const Config& config, const char* key) {
  const double value = get_double(config, key, std::nan(""));
  FEDSIGN_CHECK(!std::isnan(value), "secure aggregation: the round's config has no '{}'", key);
  return value;
}
}  // namespace

bool secagg_requested(const Config& config) { return config.count(secagg_keys::kThreshold) > 0; }

FixedPointCodec secagg_codec(const Config& config) {
  const double bound = config_number(config, secagg_keys::kBound);
  const double clients = config_number(config, secagg_keys::kClients);
  FEDSIGN_CHECK(clients >= 1 && clients == std::floor(clients),
                "secure aggregation: {} clients per round", clients);
  return FixedPointCodec(bound, static_cast<int64_t>(clients));
}

double secagg_bound(double clip, double client_noise_stddev) {
  // A clip read from a round config that lacks it arrives as NaN: refuse it here, for every caller.
  FEDSIGN_CHECK(std::isfinite(clip) && clip > 0,
                "secure aggregation: the clip bound {} is missing or not positive", clip);
  return clip + 6.0 * std::max(0.0, client_noise_stddev);
}

int64_t secagg_input_length(const Weights& global) {
  int64_t n = 1;
  for (const auto& t : global.tensors) {
    if (t.is_floating_point()) n += t.numel();
  }
  return n;
}

std::vector<uint32_t> encode_secagg_input(const Weights& global, const Weights& local,
                                          const FixedPointCodec& codec, bool unclipped,
                                          int64_t* clamped) {
  const Weights delta = model_delta(global, local);
  std::vector<uint32_t> words;
  words.reserve(static_cast<std::size_t>(secagg_input_length(global)));
  int64_t outside = 0;
  for (std::size_t i = 0; i < delta.size(); ++i) {
    if (!global.tensors[i].is_floating_point()) continue;
    const torch::Tensor d = delta.tensors[i].to(torch::kFloat64).contiguous();
    int64_t n = 0;
    const auto w = codec.encode(
        std::span<const double>(d.data_ptr<double>(), static_cast<std::size_t>(d.numel())), &n);
    outside += n;
    words.insert(words.end(), w.begin(), w.end());
  }
  words.push_back(unclipped ? 1u : 0u);
  if (clamped != nullptr) *clamped = outside;
  return words;
}

Weights decode_secagg_sum(const Weights& global, const std::vector<uint32_t>& words,
                          const FixedPointCodec& codec, int64_t* unclipped) {
  FEDSIGN_CHECK(static_cast<int64_t>(words.size()) == secagg_input_length(global),
                "secure aggregation: a sum of {} words for a model of {}", words.size(),
                secagg_input_length(global));
  const std::vector<double> values =
      codec.decode(std::vector<uint32_t>(words.begin(), words.end() - 1));
  Weights out;
  out.names = global.names;
  std::size_t offset = 0;
  for (const auto& g : global.tensors) {
    if (!g.is_floating_point()) {
      out.tensors.push_back(torch::zeros_like(g));
      continue;
    }
    const auto n = static_cast<std::size_t>(g.numel());
    torch::Tensor t = torch::from_blob(const_cast<double*>(values.data() + offset),
                                       {static_cast<int64_t>(n)}, torch::kFloat64)
                          .clone()
                          .reshape(g.sizes())
                          .to(g.scalar_type());
    out.tensors.push_back(std::move(t));
    offset += n;
  }
  *unclipped = static_cast<int64_t>(words.back());
  return out;
}

}  // namespace fedsign::fl::privacy
