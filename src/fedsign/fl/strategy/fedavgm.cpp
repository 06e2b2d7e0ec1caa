#include "fedsign/fl/strategy/fedavgm.h"

#include "fedsign/core/check.h"

namespace fedsign::fl {

FedAvgM::FedAvgM(StrategyOptions options, double server_lr, double momentum)
    : FedAvg(std::move(options)), server_lr_(server_lr), momentum_(momentum) {
  FEDSIGN_CHECK(server_lr_ > 0, "FedAvgM: server_lr {} <= 0", server_lr_);
  FEDSIGN_CHECK(momentum_ >= 0 && momentum_ < 1, "FedAvgM: momentum {} not in [0, 1)", momentum_);
}

Weights FedAvgM::server_update(int64_t, const Weights& global, const Weights& average) {
  MomentumStep step = fedavgm_step(global, average, velocity_, server_lr_, momentum_);
  velocity_ = std::move(step.velocity);
  return std::move(step.global);
}

std::map<std::string, Weights> FedAvgM::state() const {
  if (velocity_.empty()) return {};
  return {{"velocity", velocity_}};
}

void FedAvgM::load_state(const std::map<std::string, Weights>& state) {
  auto it = state.find("velocity");
  velocity_ = it == state.end() ? Weights{} : it->second;
}

}  // namespace fedsign::fl
