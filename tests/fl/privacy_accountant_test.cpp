// The RDP accountant against closed forms, published values and independent references.
// References marked "rdp_reference.py" come from `python3 scripts/rdp_reference.py` (exact
// 60-digit sums for integer orders, quadrature of the defining integral for fractional ones).
#include <gtest/gtest.h>

#include <cmath>

#include "fedsign/core/check.h"
#include "fedsign/fl/privacy/rdp_accountant.h"

namespace fedsign::fl::privacy {
namespace {

TEST(RdpAccountant, WithoutSubsamplingIsTheGaussianClosedForm) {
  for (double sigma : {0.5, 1.0, 2.71828}) {
    for (double order : {1.25, 2.0, 3.14159, 32.0, 512.0}) {
      EXPECT_DOUBLE_EQ(rdp_sampled_gaussian(1.0, sigma, order), order / (2 * sigma * sigma));
    }
  }
  // q -> 1 through the series agrees with the closed form too (integer and fractional orders).
  EXPECT_NEAR(rdp_sampled_gaussian(1 - 1e-9, 2.0, 8.0), 8.0 / 8.0, 1e-6);
  EXPECT_NEAR(rdp_sampled_gaussian(1 - 1e-9, 2.0, 3.5), 3.5 / 8.0, 1e-6);
  EXPECT_EQ(rdp_sampled_gaussian(0.0, 1.0, 2.0), 0.0);
  EXPECT_TRUE(std::isinf(rdp_sampled_gaussian(0.1, 0.0, 2.0)));
}

TEST(RdpAccountant, IntegerOrdersMatchPublishedDpAccountingValues) {
  // dp_accounting rdp_privacy_accountant_test: q 0.01, sigma 2.5, 50 steps, rtol 1e-4.
  RdpAccountant accountant({5.0, 50.0, 100.0});
  accountant.compose(0.01, 2.5, 50);
  EXPECT_NEAR(accountant.rdp()[0], 2.18075656e-03, 2.18075656e-03 * 1e-4);
  EXPECT_NEAR(accountant.rdp()[1], 2.38460375e-02, 2.38460375e-02 * 1e-4);
  EXPECT_NEAR(accountant.rdp()[2], 1.67416308e02, 1.67416308e02 * 1e-4);
}

TEST(RdpAccountant, LogAMatchesIndependentReference) {
  // rdp_reference.py: exact decimal sums (integer orders).
  EXPECT_NEAR(log_a_sampled_gaussian(0.01, 2.5, 5), 0.00017446052498463045, 1e-15);
  EXPECT_NEAR(log_a_sampled_gaussian(0.1, 1.0, 8), 9.648529879436886, 1e-10);
  EXPECT_NEAR(log_a_sampled_gaussian(0.05, 0.8, 20), 236.96035452896876, 1e-9);
  // rdp_reference.py: quadrature of E[((1-q) + q exp((2z-1)/(2 sigma^2)))^alpha] (fractional).
  EXPECT_NEAR(log_a_sampled_gaussian(0.1, 1.0, 2.5), 0.03525559089147423, 1e-9);
  EXPECT_NEAR(log_a_sampled_gaussian(0.01, 2.5, 1.5), 6.5007089324886635e-06, 1e-12);
  EXPECT_NEAR(log_a_sampled_gaussian(0.3, 2.0, 7.25), 0.8462429804607565, 1e-9);
  // The newest dp_accounting sums |terms| for fractional orders, an upper bound: its published
  // 50-step RDP at order 1.5 (6.70579741e-4) must lie above the exact value.
  EXPECT_LT(50 * rdp_sampled_gaussian(0.01, 2.5, 1.5), 6.70579741e-04);
}

TEST(RdpAccountant, EpsilonMatchesPublishedTfPrivacyValues) {
  // tensorflow_privacy compute_dp_sgd_privacy_test (improved conversion, TF's orders):
  // n 60000, batch 150, sigma 1.3, 15 epochs, delta 1e-5 -> eps 0.7242234026109595 at order 19.
  RdpAccountant a;
  a.compose(150.0 / 60000, 1.3, static_cast<int64_t>(std::ceil(15 * 60000 / 150.0)));
  const PrivacySpent s = a.spent(1e-5);
  EXPECT_NEAR(s.epsilon, 0.7242234026109595, 1e-7);
  EXPECT_EQ(s.order, 19.0);
  // n 100000, batch 100, sigma 1.0, 30 epochs, delta 1e-7 -> 1.4154988495444845 at order 13.
  RdpAccountant b;
  b.compose(100.0 / 100000, 1.0, 30 * 1000);
  EXPECT_NEAR(b.epsilon(1e-7), 1.4154988495444845, 1e-7);
  EXPECT_EQ(b.spent(1e-7).order, 13.0);
  // n 1e8, batch 1024, sigma 0.1, 10 epochs, delta 1e-7 -> 5907982.31138195 at order 1.25.
  RdpAccountant c;
  c.compose(1024.0 / 1e8, 0.1, static_cast<int64_t>(std::ceil(10 * 1e8 / 1024)));
  EXPECT_NEAR(c.epsilon(1e-7), 5907982.31138195, 5907982.31138195 * 1e-9);
  EXPECT_EQ(c.spent(1e-7).order, 1.25);
}

TEST(RdpAccountant, ConversionsMatchHandComputedValues) {
  // dp_accounting: constant RDP 1.1 over orders 2..32 at delta 1e-5 -> 1.32783806176, order 32.
  std::vector<double> orders, rdp;
  for (int o = 2; o <= 32; ++o) orders.push_back(o), rdp.push_back(1.1);
  const PrivacySpent improved = rdp_to_epsilon(orders, rdp, 1e-5);
  EXPECT_NEAR(improved.epsilon, 1.32783806176, 1e-9);
  EXPECT_EQ(improved.order, 32.0);
  // Classic: 1.1 - log(1e-5) / 31.
  EXPECT_NEAR(rdp_to_epsilon(orders, rdp, 1e-5, RdpConversion::kClassic).epsilon,
              1.1 + std::log(1e5) / 31, 1e-12);
  // rdp_reference.py, integer orders of TF's list, q 0.1, sigma 1, 100 steps, delta 1e-5:
  // improved 7.972921510380537 (order 3), classic 8.927692762822756.
  std::vector<double> ints;
  for (double o : default_rdp_orders()) if (o == std::floor(o)) ints.push_back(o);
  RdpAccountant a(ints);
  a.compose(0.1, 1.0, 100);
  EXPECT_NEAR(a.epsilon(1e-5), 7.972921510380537, 1e-9);
  EXPECT_NEAR(rdp_to_epsilon(a.orders(), a.rdp(), 1e-5, RdpConversion::kClassic).epsilon,
              8.927692762822756, 1e-9);
  // The improved conversion is never worse than the classic one.
  RdpAccountant d;
  d.compose(0.05, 0.9, 300);
  EXPECT_LE(d.epsilon(1e-5), rdp_to_epsilon(d.orders(), d.rdp(), 1e-5, RdpConversion::kClassic).epsilon);
}

TEST(RdpAccountant, EpsilonGrowsWithStepsAndShrinksWithNoise) {
  double previous = 0;
  RdpAccountant a;
  for (int step = 1; step <= 50; ++step) {
    a.compose(0.1, 1.0, 1);
    const double eps = a.epsilon(1e-5);
    EXPECT_GT(eps, previous) << "step " << step;
    previous = eps;
  }
  EXPECT_EQ(a.steps(), 50);
  // Composing step by step equals composing 50 steps at once.
  EXPECT_NEAR(previous, epsilon_for(0.1, 1.0, 50, 1e-5), 1e-9);
  previous = INFINITY;
  for (double sigma : {0.6, 0.8, 1.0, 1.5, 2.0, 4.0, 8.0}) {
    const double eps = epsilon_for(0.01, sigma, 1000, 1e-5);
    EXPECT_LT(eps, previous) << "sigma " << sigma;
    previous = eps;
  }
}

TEST(RdpAccountant, NoiseMultiplierBisectionHitsTheTarget) {
  for (double target : {1.0, 4.0, 8.0}) {
    const double q = 0.1;  // 100 of 1,000 clients per round
    const double sigma = noise_multiplier_for(target, q, 200, 1e-5);
    EXPECT_LE(epsilon_for(q, sigma, 200, 1e-5), target);
    EXPECT_GT(epsilon_for(q, sigma * 0.999, 200, 1e-5), target * 0.99);
  }
  EXPECT_THROW(noise_multiplier_for(0.0, 0.1, 10, 1e-5), fedsign::Error);
  // Restoring a saved state continues the sum.
  RdpAccountant a;
  a.compose(0.1, 1.0, 7);
  RdpAccountant b;
  b.restore(a.orders(), a.rdp(), a.steps());
  a.compose(0.1, 1.0, 3);
  b.compose(0.1, 1.0, 3);
  EXPECT_EQ(a.epsilon(1e-5), b.epsilon(1e-5));
}

}  // namespace
}  // namespace fedsign::fl::privacy
