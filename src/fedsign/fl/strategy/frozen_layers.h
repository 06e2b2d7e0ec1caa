// Federated fine-tuning of part of a model, e.g. the head of a model pretrained on public data:
// the clients train only some layer groups and the rest stays exactly as it started.
//   * configure_fit tells every client which groups to train (fit config "trainable_groups");
//     the client freezes the others, their BatchNorm statistics included (fl/client);
//   * the server does not rely on that: every result's frozen tensors are replaced by the
//     global model's before the inner strategy sees them, and the inner strategy's new model
//     gets the old frozen tensors back (so whatever an inner wrapper adds to them, e.g. DP
//     noise, is discarded: post-processing, which costs no privacy).
// Under DP-FedAvg (privacy/dp_fedavg.h, wrapped around this one) a client's update is then zero
// outside the trained groups, so the clip bounds the trained tensors alone and the noise that
// matters falls on them alone: fewer noised coordinates, the reason to fine-tune a part.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "fedsign/fl/robust/delegating_strategy.h"

namespace fedsign::fl {

class FrozenLayers : public robust::DelegatingStrategy {
 public:
  // `trainable_groups`: what the clients are told to train; `frozen`: the names of the
  // tensors (parameters and buffers) outside those groups, which the server holds fixed.
  FrozenLayers(std::unique_ptr<Strategy> inner, std::vector<std::string> trainable_groups,
               std::set<std::string> frozen);

  std::vector<FitInstruction> configure_fit(int64_t round, const Weights& global,
                                            const ClientManager& clients) override;
  std::unique_ptr<FitAggregation> begin_aggregate_fit(int64_t round,
                                                      const Weights& global) override;

  // `weights` with every frozen tensor taken from `global` (same layout required).
  Weights hold(const Weights& global, Weights weights) const;

 private:
  class Aggregation;
  std::string trainable_;
  std::set<std::string> frozen_;
};

}  // namespace fedsign::fl
