#include "fedsign/fl/strategy/fedprox.h"

#include "fedsign/core/check.h"

namespace fedsign::fl {

FedProx::FedProx(StrategyOptions options, double proximal_mu)
    : FedAvg(std::move(options)), mu_(proximal_mu) {
  FEDSIGN_CHECK(mu_ >= 0, "FedProx: proximal_mu {} < 0", mu_);
}

Config FedProx::fit_config(int64_t round) const {
  Config config = FedAvg::fit_config(round);
  config[keys::kProximalMu] = mu_;
  return config;
}

}  // namespace fedsign::fl
