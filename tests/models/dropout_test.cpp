// models::Dropout (layers.h): inside a DropoutSeedScope it draws the masks torch::manual_seed
// would give torch::nn::Dropout, whatever the global generator holds; outside one it is
// torch::nn::Dropout; two threads with their own scopes draw their own masks at once.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <thread>

#include "fedsign/models/layers.h"

namespace fedsign::models {
namespace {

TEST(Dropout, ASeedScopeDrawsWhatTheGlobalSeedWould) {
  const torch::Tensor x = torch::rand({8, 64}) + 1;
  torch::manual_seed(11);
  const torch::Tensor reference = torch::nn::Dropout(0.3)->forward(x);
  Dropout dropout(0.3);
  torch::manual_seed(999);  // the global generator elsewhere
  torch::Tensor scoped;
  {
    DropoutSeedScope scope(11);
    scoped = dropout->forward(x);
  }
  EXPECT_TRUE(torch::equal(scoped, reference));
  EXPECT_GT(scoped.eq(0).sum().item<int64_t>(), 0);
  // Without a scope: the global generator, as torch::nn::Dropout.
  torch::manual_seed(11);
  EXPECT_TRUE(torch::equal(dropout->forward(x), reference));
  dropout->eval();
  EXPECT_TRUE(torch::equal(dropout->forward(x), x));
  dropout->train();
  EXPECT_TRUE(torch::equal(Dropout(1.0)->forward(x), torch::zeros_like(x)));
  EXPECT_ANY_THROW(Dropout(1.5));
}

TEST(Dropout, ThreadsWithTheirOwnScopesDrawTheirOwnMasks) {
  const torch::Tensor x = torch::ones({64, 256});
  Dropout dropout(0.5);
  auto masks = [&](uint64_t seed) {
    DropoutSeedScope scope(seed);
    std::vector<torch::Tensor> out;
    for (int i = 0; i < 20; ++i) out.push_back(dropout->forward(x));
    return torch::stack(out);
  };
  const torch::Tensor alone_1 = masks(1), alone_2 = masks(2);
  torch::Tensor together_1, together_2;
  std::thread a([&] { together_1 = masks(1); });
  std::thread b([&] { together_2 = masks(2); });
  a.join();
  b.join();
  EXPECT_TRUE(torch::equal(together_1, alone_1));
  EXPECT_TRUE(torch::equal(together_2, alone_2));
  EXPECT_FALSE(torch::equal(alone_1, alone_2));
}

}  // namespace
}  // namespace fedsign::models
