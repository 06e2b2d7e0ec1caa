#!/usr/bin/env python3
"""Independent reference values for the RDP accountant tests (tests/fl/privacy_accountant_test.cpp).

Not product code. Computes A_alpha of the sampled Gaussian mechanism (Mironov et al. 2019) two
ways that share nothing with the C++ series:
  * integer orders: the finite binomial sum evaluated directly in 60-digit decimal arithmetic;
  * any order: A_alpha = E_{z ~ N(0, sigma^2)} [((1 - q) + q exp((2z - 1) / (2 sigma^2)))^alpha]
    by the trapezoid rule on a fine grid (exponentially accurate for this smooth integrand).
Then RDP = log(A) / (alpha - 1) per step, and epsilon with both conversions.
Standard library only:  python3 scripts/rdp_reference.py
"""
import math
from decimal import Decimal, getcontext

getcontext().prec = 60


def log_a_exact_int(q, sigma, alpha):
    qd, s2 = Decimal(q), Decimal(sigma) ** 2
    total = Decimal(0)
    for k in range(alpha + 1):
        total += (Decimal(math.comb(alpha, k)) * (1 - qd) ** (alpha - k) * qd ** k *
                  ((Decimal(k * k - k)) / (2 * s2)).exp())
    return float(total.ln())


def log_a_quadrature(q, sigma, alpha, points=400001):
    # Integrate in log space around the integrand's support: z in [-40 sigma, 40 sigma + shift].
    lo, hi = -40.0 * sigma, 40.0 * sigma + alpha + 2.0
    h = (hi - lo) / (points - 1)
    logs = []
    for i in range(points):
        z = lo + i * h
        log_pdf = -z * z / (2 * sigma * sigma) - math.log(sigma * math.sqrt(2 * math.pi))
        u = (2 * z - 1) / (2 * sigma * sigma)
        # log((1-q) + q e^u), stable for large u
        mix = (math.log(q) + u + math.log1p((1 - q) / q * math.exp(-u)) if u > 0
               else math.log1p(-q) + math.log1p(q / (1 - q) * math.exp(u)))
        logs.append(log_pdf + alpha * mix)
    m = max(logs)
    s = sum(math.exp(v - m) for v in logs) - 0.5 * (math.exp(logs[0] - m) + math.exp(logs[-1] - m))
    return m + math.log(s * h)


def orders_tf():
    return [1.25, 1.5, 1.75, 2., 2.25, 2.5, 3., 3.5, 4., 4.5] + list(range(5, 64)) + [128, 256, 512]


def epsilon(orders, rdp, delta, improved=True):
    best = (math.inf, None)
    for a, r in zip(orders, rdp):
        if improved:
            if delta ** 2 + math.expm1(-r) > 0:
                e = 0.0
            elif a > 1.01:
                e = r + math.log1p(-1 / a) - math.log(delta * a) / (a - 1)
            else:
                e = math.inf
        else:
            e = r - math.log(delta) / (a - 1)
        best = min(best, (e, a))
    return max(0.0, best[0]), best[1]


def main():
    print("# log A_alpha: exact decimal sum (integer) / quadrature")
    for q, sigma, alpha in [(0.01, 2.5, 5), (0.1, 1.0, 8), (0.05, 0.8, 20), (0.1, 1.0, 2.5),
                            (0.01, 2.5, 1.5), (0.3, 2.0, 7.25)]:
        exact = log_a_exact_int(q, sigma, alpha) if float(alpha).is_integer() else float("nan")
        print(f"q={q} sigma={sigma} alpha={alpha}: exact={exact!r} quadrature="
              f"{log_a_quadrature(q, sigma, alpha)!r}")
    print("# epsilon(q, sigma, steps, delta) on TF Privacy's orders, integer orders only")
    ints = [a for a in orders_tf() if float(a).is_integer()]
    for q, sigma, steps, delta in [(0.1, 1.0, 100, 1e-5), (0.01, 1.1, 1000, 1e-5),
                                   (150 / 60000, 1.3, 6000, 1e-5)]:
        rdp = [steps * log_a_exact_int(q, sigma, int(a)) / (a - 1) for a in ints]
        print(f"q={q} sigma={sigma} steps={steps} delta={delta}: improved={epsilon(ints, rdp, delta)}"
              f" classic={epsilon(ints, rdp, delta, improved=False)}")


if __name__ == "__main__":
    main()
