// The local learning rate across rounds (StrategyOptions::lr_schedule), against closed forms,
// and as the clients receive it from configure_fit.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "fedsign/core/check.h"
#include "fedsign/fl/client_manager.h"
#include "fedsign/fl/strategy/strategy.h"

namespace fedsign::fl {
namespace {

TEST(RoundSchedule, ExponentialDecaysPerRound) {
  StrategyOptions o;
  o.lr_decay = 0.9;
  EXPECT_DOUBLE_EQ(round_learning_rate(o, 0.1, 1), 0.1);
  EXPECT_NEAR(round_learning_rate(o, 0.1, 3), 0.1 * 0.81, 1e-15);
  o.lr_decay = 1.0;
  EXPECT_DOUBLE_EQ(round_learning_rate(o, 0.1, 50), 0.1);
}

TEST(RoundSchedule, CosineAnnealsToMinOverTheRun) {
  StrategyOptions o;
  o.lr_schedule = "cosine";
  o.total_rounds = 10;
  o.min_lr = 0.001;
  EXPECT_DOUBLE_EQ(round_learning_rate(o, 0.1, 1), 0.1);
  // Round 6 is half way: the mean of lr and min_lr.
  EXPECT_NEAR(round_learning_rate(o, 0.1, 6), 0.0505, 1e-12);
  const double last = 0.001 + 0.099 * 0.5 * (1 + std::cos(std::numbers::pi * 0.9));
  EXPECT_NEAR(round_learning_rate(o, 0.1, 10), last, 1e-12);
  EXPECT_GT(round_learning_rate(o, 0.1, 10), o.min_lr);  // the last round still trains
  for (int r = 2; r <= 10; ++r) {
    EXPECT_LT(round_learning_rate(o, 0.1, r), round_learning_rate(o, 0.1, r - 1)) << r;
  }
  EXPECT_NEAR(round_learning_rate(o, 0.1, 25), 0.001, 1e-15);  // past the end: min_lr
}

TEST(RoundSchedule, BadSettingsAreErrors) {
  StrategyOptions o;
  o.lr_schedule = "cosine";
  EXPECT_THROW(round_learning_rate(o, 0.1, 1), Error);  // no total_rounds
  o.lr_schedule = "linear";
  o.total_rounds = 5;
  EXPECT_THROW(round_learning_rate(o, 0.1, 1), Error);
}

TEST(RoundSchedule, ClientsReceiveTheScheduledRate) {
  StrategyOptions o;
  o.lr_schedule = "cosine";
  o.total_rounds = 4;
  o.fit_config[keys::kLr] = 0.2;
  for (const std::string name : {"fedavg", "fedprox", "scaffold"}) {
    auto strategy = make_strategy(name, o);
    const FixedClientManager clients(1);
    const Weights global;
    for (int64_t round = 1; round <= 4; ++round) {
      const auto fit = strategy->configure_fit(round, global, clients);
      ASSERT_EQ(fit.size(), 1u);
      EXPECT_NEAR(get_double(fit[0].ins.config, keys::kLr, -1), round_learning_rate(o, 0.2, round),
                  1e-15)
          << name << " round " << round;
    }
  }
}

}  // namespace
}  // namespace fedsign::fl
