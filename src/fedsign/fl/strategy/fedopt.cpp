#include "fedsign/fl/strategy/fedopt.h"

#include "fedsign/core/check.h"

namespace fedsign::fl {

FedOptParams default_fedopt_params(FedOptKind kind) {
  FedOptParams p;
  p.kind = kind;
  p.eta = kind == FedOptKind::kAdagrad ? 1e-1 : 1e-2;
  return p;
}

FedOpt::FedOpt(StrategyOptions options, FedOptParams params)
    : FedAvg(std::move(options)), params_(params) {
  FEDSIGN_CHECK(params_.eta > 0, "{}: server_lr {} <= 0", name(), params_.eta);
  FEDSIGN_CHECK(params_.tau > 0, "{}: tau {} <= 0", name(), params_.tau);
  FEDSIGN_CHECK(params_.beta1 >= 0 && params_.beta1 < 1, "{}: beta1 {} not in [0, 1)", name(),
                params_.beta1);
  FEDSIGN_CHECK(params_.beta2 >= 0 && params_.beta2 < 1, "{}: beta2 {} not in [0, 1)", name(),
                params_.beta2);
}

std::string FedOpt::name() const {
  switch (params_.kind) {
    case FedOptKind::kAdagrad: return "fedadagrad";
    case FedOptKind::kAdam: return "fedadam";
    case FedOptKind::kYogi: return "fedyogi";
  }
  return "fedopt";
}

Weights FedOpt::server_update(int64_t, const Weights& global, const Weights& average) {
  FedOptStep step = fedopt_step(global, average, state_, params_);
  state_ = std::move(step.state);
  return std::move(step.global);
}

std::map<std::string, Weights> FedOpt::state() const {
  if (state_.m.empty()) return {};
  return {{"m", state_.m}, {"v", state_.v}};
}

void FedOpt::load_state(const std::map<std::string, Weights>& state) {
  state_ = {};
  if (auto it = state.find("m"); it != state.end()) state_.m = it->second;
  if (auto it = state.find("v"); it != state.end()) state_.v = it->second;
}

}  // namespace fedsign::fl
