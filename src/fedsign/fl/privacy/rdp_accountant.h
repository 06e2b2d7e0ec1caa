// A Renyi-DP accountant for the sampled Gaussian mechanism, the computation TensorFlow Privacy
// (dp_accounting) and Opacus use: Mironov, Talwar and Zhang 2019, "Renyi Differential Privacy
// of the Sampled Gaussian Mechanism" (section 3.3: the series for integer orders, and the
// two-sided series with erfc terms for fractional ones). One step samples each record (here:
// each client) with probability q and adds Gaussian noise of stddev sigma x sensitivity; steps
// compose by adding RDP. (epsilon, delta) comes from the conversion of Canonne, Kamath and
// Steinke 2020 (Proposition 12 of arXiv 2004.00010; Balle et al. 2020 Theorem 21), minimized
// over orders, as Opacus and dp_accounting do; the classic conversion (Mironov 2017
// Proposition 3) is available for comparison. No LibTorch. RdpAccountant is a value type, not
// thread-safe.
#pragma once

#include <cstdint>
#include <vector>

namespace fedsign::fl::privacy {

// TF Privacy's compute_dp_sgd_privacy orders: 1.25 ... 4.5, 5 ... 63, 128, 256, 512.
std::vector<double> default_rdp_orders();

// RDP of ONE step of the sampled Gaussian mechanism at `order` (> 1; +inf allowed):
// log(A_order) / (order - 1). q in [0, 1], sigma >= 0 (0: infinite). q = 1 gives the plain
// Gaussian's order / (2 sigma^2).
double rdp_sampled_gaussian(double q, double sigma, double order);

// log(A_alpha) of Mironov et al. 2019 (exposed for tests); integer orders use the exact
// finite series, others the erfc series.
double log_a_sampled_gaussian(double q, double sigma, double order);

struct PrivacySpent {
  double epsilon = 0.0;
  double order = 0.0;  // the minimizing RDP order
};

enum class RdpConversion {
  kImproved,  // eps = r + log1p(-1/a) - log(delta * a) / (a - 1)  (Canonne-Kamath-Steinke)
  kClassic,   // eps = r - log(delta) / (a - 1)                     (Mironov 2017)
};

// min over orders of the (epsilon, delta) bound implied by RDP `rdp[i]` at `orders[i]`.
PrivacySpent rdp_to_epsilon(const std::vector<double>& orders, const std::vector<double>& rdp,
                            double delta, RdpConversion conversion = RdpConversion::kImproved);

// Accumulates RDP over rounds (composition adds RDP order by order).
class RdpAccountant {
 public:
  explicit RdpAccountant(std::vector<double> orders = default_rdp_orders());

  // `steps` steps with sampling rate q and noise multiplier sigma.
  void compose(double q, double sigma, int64_t steps = 1);
  PrivacySpent spent(double delta) const;
  double epsilon(double delta) const { return spent(delta).epsilon; }
  int64_t steps() const { return steps_; }
  const std::vector<double>& orders() const { return orders_; }
  const std::vector<double>& rdp() const { return rdp_; }
  // Restores what orders()/rdp()/steps() returned (a resumed run continues the sum).
  void restore(std::vector<double> orders, std::vector<double> rdp, int64_t steps);

 private:
  std::vector<double> orders_;
  std::vector<double> rdp_;
  int64_t steps_ = 0;
};

// epsilon after `steps` steps of (q, sigma) at delta (improved conversion, default orders).
double epsilon_for(double q, double sigma, int64_t steps, double delta);

// The smallest noise multiplier whose epsilon after `steps` steps at rate q is <= target
// (bisection to a relative 1e-4 on sigma, returning the upper end so the target holds).
// Throws if no sigma up to 1e4 reaches it.
double noise_multiplier_for(double target_epsilon, double q, int64_t steps, double delta);

}  // namespace fedsign::fl::privacy
