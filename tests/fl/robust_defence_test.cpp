// Attacks against defences end to end on a toy federation, through the real Strategy wrappers
// and attack functions (no model, no data): 10 clients per round pull x toward their targets
// b_i = b* + small noise by half a step; 2 of them send sign-flipped updates boosted 4x, which
// cancels the benign pull under the plain mean. Every defence must still bring x to b*.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fedsign/fl/attack/update_attacks.h"
#include "fedsign/fl/strategy/fedavg.h"
#include "fedsign/fl/robust/wrap_robust.h"

namespace fedsign::fl::robust {
namespace {

Weights vector_model(torch::Tensor x) {
  Weights w;
  w.names = {"layer.weight"};
  w.tensors = {std::move(x)};
  return w;
}

// Distance to b* after `rounds` rounds of the toy federation under `strategy`.
double distance_after(Strategy& strategy, int rounds) {
  torch::manual_seed(5);
  const torch::Tensor target = torch::full({5}, 2.0f);
  std::vector<torch::Tensor> b;
  for (int i = 0; i < 10; ++i) b.push_back(target + 0.01 * torch::randn({5}));
  Weights global = vector_model(torch::zeros({5}));
  for (int round = 1; round <= rounds; ++round) {
    std::vector<FitResult> results;
    for (int i = 0; i < 10; ++i) {
      FitResult r;
      r.client_id = i;
      r.num_examples = 10;
      r.weights = vector_model(global.tensors[0] + 0.5 * (b[static_cast<std::size_t>(i)] - global.tensors[0]));
      if (i < 2) r.weights = attack::sign_flip(global, r.weights, 4.0);
      results.push_back(std::move(r));
    }
    global = strategy.aggregate_fit(round, global, std::move(results), {}).weights;
  }
  return (global.tensors[0] - target).norm().item<double>();
}

// `defence` is a robust rule, "clip" (fixed bound) or "adaptive-clip".
std::unique_ptr<Strategy> defended(const std::string& defence) {
  RobustOptions options;
  const bool clip = defence == "clip" || defence == "adaptive-clip";
  options.rule = clip ? "none" : defence;
  options.krum_f = 2;
  options.trim_beta = 0.2;
  options.clip_norm = defence == "clip" ? 0.2 : 0.0;  // clip stalls where 2 d = C: d = 0.1
  options.adaptive_clip = defence == "adaptive-clip";
  robust::ServerRoot root;
  root.update = [](int64_t, const Weights& global, const Config&) {  // FLTrust's clean root set
    return vector_model(global.tensors[0] + 0.5 * (2.0 - global.tensors[0]));
  };
  return wrap_robust(std::make_unique<FedAvg>(StrategyOptions{}), options, root);
}

TEST(RobustDefence, EveryRuleBeatsBoostedSignFlipping) {
  FedAvg plain(StrategyOptions{});
  const double undefended = distance_after(plain, 80);
  EXPECT_GT(undefended, 3.0);  // started at sqrt(5 * 4) = 4.47; only the noise moves it
  for (const std::string rule :
       {"median", "trimmed-mean", "krum", "multi-krum", "fltrust", "cosine-filter", "clip",
        "adaptive-clip"}) {
    auto strategy = defended(rule);
    EXPECT_LT(distance_after(*strategy, 80), 0.2) << rule;
  }
}

}  // namespace
}  // namespace fedsign::fl::robust
