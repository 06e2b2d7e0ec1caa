#include "fedsign/fl/privacy/rdp_accountant.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "fedsign/core/check.h"

namespace fedsign::fl::privacy {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// log(exp(x) + exp(y)) without overflow.
double log_add(double x, double y) {
  if (x == -kInf) return y;
  if (y == -kInf) return x;
  const double hi = std::max(x, y);
  return hi + std::log1p(std::exp(std::min(x, y) - hi));
}

// log(exp(x) - exp(y)); -inf when y >= x (the series' alternating tail cancels to nothing).
double log_sub(double x, double y) {
  if (y == -kInf) return x;
  if (y >= x) return -kInf;
  return x + std::log1p(-std::exp(y - x));
}

// log(erfc(x)), with the asymptotic expansion where erfc underflows or loses digits.
double log_erfc(double x) {
  if (x < 20.0) return std::log(std::erfc(x));
  const double x2 = x * x;
  // erfc(x) ~ exp(-x^2) / (x sqrt(pi)) * (1 - 1/(2x^2) + 3/(4x^4) - 15/(8x^6) + 105/(16x^8))
  const double series =
      1.0 - 1.0 / (2 * x2) + 3.0 / (4 * x2 * x2) - 15.0 / (8 * x2 * x2 * x2) +
      105.0 / (16 * x2 * x2 * x2 * x2);
  return -x2 - std::log(x) - 0.5 * std::log(M_PI) + std::log(series);
}

// Integer alpha: A = sum_k C(alpha,k) (1-q)^(alpha-k) q^k exp((k^2 - k) / (2 sigma^2)).
double log_a_int(double q, double sigma, int64_t alpha) {
  double log_a = -kInf;
  const double log_q = std::log(q), log_1mq = std::log1p(-q);
  const double a = static_cast<double>(alpha);
  for (int64_t k = 0; k <= alpha; ++k) {
    const double kd = static_cast<double>(k);
    const double log_binom = std::lgamma(a + 1) - std::lgamma(kd + 1) - std::lgamma(a - kd + 1);
    const double term = log_binom + kd * log_q + (a - kd) * log_1mq +
                        (kd * kd - kd) / (2 * sigma * sigma);
    log_a = log_add(log_a, term);
  }
  return log_a;
}

// Fractional alpha: A = A0 + A1, two series split at z0 = sigma^2 log(1/q - 1) + 1/2, each term
// weighted by a Gaussian tail (erfc); generalized binomial coefficients change sign past alpha.
double log_a_frac(double q, double sigma, double alpha) {
  double log_a0 = -kInf, log_a1 = -kInf;
  const double z0 = sigma * sigma * std::log(1.0 / q - 1.0) + 0.5;
  const double log_q = std::log(q), log_1mq = std::log1p(-q);
  const double two_s2 = 2 * sigma * sigma;
  double log_abs_coef = 0.0;  // log |C(alpha, i)|
  bool positive = true;
  for (int64_t i = 0; i < 100000; ++i) {
    const double id = static_cast<double>(i);
    const double j = alpha - id;
    const double log_t0 = log_abs_coef + id * log_q + j * log_1mq;
    const double log_t1 = log_abs_coef + j * log_q + id * log_1mq;
    const double log_e0 = std::log(0.5) + log_erfc((id - z0) / (std::sqrt(2.0) * sigma));
    const double log_e1 = std::log(0.5) + log_erfc((z0 - j) / (std::sqrt(2.0) * sigma));
    const double log_s0 = log_t0 + (id * id - id) / two_s2 + log_e0;
    const double log_s1 = log_t1 + (j * j - j) / two_s2 + log_e1;
    if (positive) {
      log_a0 = log_add(log_a0, log_s0);
      log_a1 = log_add(log_a1, log_s1);
    } else {
      log_a0 = log_sub(log_a0, log_s0);
      log_a1 = log_sub(log_a1, log_s1);
    }
    if (std::max(log_s0, log_s1) < -30) break;
    // C(alpha, i + 1) = C(alpha, i) (alpha - i) / (i + 1)
    log_abs_coef += std::log(std::abs(alpha - id)) - std::log(id + 1);
    if (alpha - id < 0) positive = !positive;
  }
  return log_add(log_a0, log_a1);
}

}  // namespace

std::vector<double> default_rdp_orders() {
  std::vector<double> orders = {1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 3.0, 3.5, 4.0, 4.5};
  for (int o = 5; o < 64; ++o) orders.push_back(o);
  for (double o : {128.0, 256.0, 512.0}) orders.push_back(o);
  return orders;
}

double log_a_sampled_gaussian(double q, double sigma, double order) {
  if (order == std::floor(order) && order < 1e6) {
    return log_a_int(q, sigma, static_cast<int64_t>(order));
  }
  return log_a_frac(q, sigma, order);
}

double rdp_sampled_gaussian(double q, double sigma, double order) {
  FEDSIGN_CHECK(q >= 0 && q <= 1, "RDP: sampling rate {} not in [0, 1]", q);
  FEDSIGN_CHECK(sigma >= 0, "RDP: noise multiplier {} < 0", sigma);
  FEDSIGN_CHECK(order > 1, "RDP: order {} must be > 1", order);
  if (q == 0) return 0.0;
  if (sigma == 0 || std::isinf(order)) return kInf;
  if (q == 1) return order / (2 * sigma * sigma);
  return log_a_sampled_gaussian(q, sigma, order) / (order - 1);
}

PrivacySpent rdp_to_epsilon(const std::vector<double>& orders, const std::vector<double>& rdp,
                            double delta, RdpConversion conversion) {
  FEDSIGN_CHECK(orders.size() == rdp.size() && !orders.empty(),
                "RDP conversion: {} orders for {} RDP values", orders.size(), rdp.size());
  FEDSIGN_CHECK(delta > 0 && delta < 1, "RDP conversion: delta {} not in (0, 1)", delta);
  PrivacySpent best{kInf, orders.front()};
  for (std::size_t i = 0; i < orders.size(); ++i) {
    const double a = orders[i], r = rdp[i];
    FEDSIGN_CHECK(a > 1 && r >= 0, "RDP conversion: order {} with RDP {}", a, r);
    double eps;
    if (conversion == RdpConversion::kClassic) {
      eps = r - std::log(delta) / (a - 1);
    } else if (delta * delta + std::expm1(-r) > 0) {
      eps = 0;  // RDP this small bounds delta by sqrt(1 - exp(-r)) < delta at epsilon 0
    } else if (a > 1.01) {  // the bound is numerically unstable as a -> 1
      eps = r + std::log1p(-1 / a) - std::log(delta * a) / (a - 1);
    } else {
      eps = kInf;
    }
    if (eps < best.epsilon) best = {eps, a};
  }
  best.epsilon = std::max(0.0, best.epsilon);
  return best;
}

RdpAccountant::RdpAccountant(std::vector<double> orders)
    : orders_(std::move(orders)), rdp_(orders_.size(), 0.0) {
  FEDSIGN_CHECK(!orders_.empty(), "RDP accountant: no orders");
}

void RdpAccountant::compose(double q, double sigma, int64_t steps) {
  FEDSIGN_CHECK(steps >= 0, "RDP accountant: {} steps", steps);
  for (std::size_t i = 0; i < orders_.size(); ++i) {
    rdp_[i] += static_cast<double>(steps) * rdp_sampled_gaussian(q, sigma, orders_[i]);
  }
  steps_ += steps;
}

PrivacySpent RdpAccountant::spent(double delta) const {
  return rdp_to_epsilon(orders_, rdp_, delta);
}

void RdpAccountant::restore(std::vector<double> orders, std::vector<double> rdp, int64_t steps) {
  FEDSIGN_CHECK(!orders.empty() && orders.size() == rdp.size() && steps >= 0,
                "RDP accountant state: {} orders, {} values, {} steps", orders.size(), rdp.size(),
                steps);
  orders_ = std::move(orders);
  rdp_ = std::move(rdp);
  steps_ = steps;
}

double epsilon_for(double q, double sigma, int64_t steps, double delta) {
  RdpAccountant accountant;
  accountant.compose(q, sigma, steps);
  return accountant.epsilon(delta);
}

double noise_multiplier_for(double target_epsilon, double q, int64_t steps, double delta) {
  FEDSIGN_CHECK(target_epsilon > 0, "target epsilon {} must be > 0", target_epsilon);
  FEDSIGN_CHECK(steps >= 1, "noise calibration: {} steps", steps);
  // epsilon decreases in sigma: grow an upper end until it meets the target, then bisect.
  double lo = 0.0, hi = 1.0;
  while (epsilon_for(q, hi, steps, delta) > target_epsilon) {
    lo = hi;
    hi *= 2;
    FEDSIGN_CHECK(hi <= 1e4, "no noise multiplier up to 1e4 reaches epsilon {} (q {}, {} steps, "
                  "delta {})", target_epsilon, q, steps, delta);
  }
  while (hi - lo > 1e-4 * hi) {
    const double mid = 0.5 * (lo + hi);
    (epsilon_for(q, mid, steps, delta) > target_epsilon ? lo : hi) = mid;
  }
  return hi;
}

}  // namespace fedsign::fl::privacy
