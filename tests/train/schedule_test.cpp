#include "fedsign/train/schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

namespace fedsign::train {
namespace {

constexpr double kPi = std::numbers::pi;

TEST(Schedule, CosineMatchesClosedForm) {
  ScheduleConfig c;
  c.kind = ScheduleKind::kCosine;
  c.base_lr = 0.1;
  c.min_lr = 0.001;
  c.total_steps = 100;
  for (int t : {0, 1, 25, 50, 99, 100, 150}) {
    const double frac = std::min(1.0, t / 100.0);
    const double expected = 0.001 + (0.1 - 0.001) * 0.5 * (1 + std::cos(kPi * frac));
    EXPECT_NEAR(learning_rate_at(c, t), expected, 1e-12) << "step " << t;
  }
}

TEST(Schedule, CosineWarmRestartsMatchesPyTorchSemantics) {
  // torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(T_0=10, T_mult=2, eta_min=0.01):
  // periods [0,10), [10,30), [30,70) ...; lr = eta_min + (base-eta_min)(1+cos(pi*T_cur/T_i))/2.
  ScheduleConfig c;
  c.kind = ScheduleKind::kCosineWarmRestarts;
  c.base_lr = 1.0;
  c.min_lr = 0.01;
  c.restart_period = 10;
  c.restart_mult = 2;
  auto expected = [](double t_cur, double t_i) {
    return 0.01 + 0.99 * 0.5 * (1 + std::cos(kPi * t_cur / t_i));
  };
  EXPECT_NEAR(learning_rate_at(c, 0), 1.0, 1e-12);
  EXPECT_NEAR(learning_rate_at(c, 5), expected(5, 10), 1e-12);
  EXPECT_NEAR(learning_rate_at(c, 10), 1.0, 1e-12);  // restart
  EXPECT_NEAR(learning_rate_at(c, 20), expected(10, 20), 1e-12);
  EXPECT_NEAR(learning_rate_at(c, 30), 1.0, 1e-12);  // second restart
  EXPECT_NEAR(learning_rate_at(c, 69), expected(39, 40), 1e-12);
}

TEST(Schedule, WarmRestartsWithMultOneRepeats) {
  ScheduleConfig c;
  c.kind = ScheduleKind::kCosineWarmRestarts;
  c.base_lr = 0.5;
  c.restart_period = 7;
  for (int t = 0; t < 7; ++t) EXPECT_DOUBLE_EQ(learning_rate_at(c, t), learning_rate_at(c, t + 14));
}

TEST(Schedule, StepDecay) {
  ScheduleConfig c;
  c.kind = ScheduleKind::kStep;
  c.base_lr = 0.1;
  c.step_size = 30;
  c.gamma = 0.5;
  EXPECT_DOUBLE_EQ(learning_rate_at(c, 29), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate_at(c, 30), 0.05);
  EXPECT_DOUBLE_EQ(learning_rate_at(c, 95), 0.0125);
}

TEST(Schedule, LinearWarmupThenSchedule) {
  ScheduleConfig c;
  c.kind = ScheduleKind::kConstant;
  c.base_lr = 0.2;
  c.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(learning_rate_at(c, 0), 0.05);
  EXPECT_DOUBLE_EQ(learning_rate_at(c, 3), 0.2);
  EXPECT_DOUBLE_EQ(learning_rate_at(c, 100), 0.2);
}

TEST(Schedule, OneCyclePeaksAndEnds) {
  ScheduleConfig c;
  c.kind = ScheduleKind::kOneCycle;
  c.base_lr = 1.0;
  c.total_steps = 100;
  c.pct_start = 0.3;
  c.div_factor = 25;
  c.final_div_factor = 1e4;
  EXPECT_NEAR(learning_rate_at(c, 0), 1.0 / 25, 1e-12);
  EXPECT_NEAR(learning_rate_at(c, 30), 1.0, 1e-12);
  EXPECT_NEAR(learning_rate_at(c, 100), 1.0 / 25 / 1e4, 1e-12);
  EXPECT_GT(learning_rate_at(c, 15), learning_rate_at(c, 5));
  EXPECT_LT(learning_rate_at(c, 80), learning_rate_at(c, 40));
}

TEST(Schedule, ParseRejectsUnknownNames) {
  EXPECT_EQ(parse_schedule("cosine-restarts"), ScheduleKind::kCosineWarmRestarts);
  EXPECT_THROW(parse_schedule("linear"), std::exception);
}

}  // namespace
}  // namespace fedsign::train
