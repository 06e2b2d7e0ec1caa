// In-process clients of the simulation. A LocalClient is a data view (indices into one
// shared ImageSet, split by track into local train and test parts) plus optional persistent
// state (SCAFFOLD's c_i, FedBN's local BatchNorm tensors). It holds NO model: it borrows the
// model of a Worker for the duration of fit()/evaluate(), so memory grows with the number of
// clients trained concurrently, not with the number of clients. LocalClient objects are
// cheap, created per call by the simulation.
//
// Local training: `local_steps` optimizer steps if > 0, else `local_epochs` passes, with a
// fresh optimizer at learning rate `lr` (constant within the round); FedProx adds
// mu * (w - w_global) and SCAFFOLD c - c_i to the gradients (train::TrainHooks). Every random
// choice derives from (seed, round, client), so runs and resumed runs are reproducible.
// Differential privacy: when the fit config carries DP keys (privacy/dp_fedavg.h), the trained
// model goes through privacy::client_privatize before it is returned (distributed mode: clipped
// and noised here, on the client).
// Fine-tuning part of the model: a fit config with "trainable_groups" freezes the other layer
// groups (no gradient step, BatchNorm statistics held), so they come back unchanged.
// Simulated faults: with probability dropout_prob a client throws ClientDropout; with
// probability straggler_prob it completes only a fraction U(min_fraction, 1) of its steps.
#pragma once

#include <map>
#include <memory>
#include <optional>

#include "fedsign/data/image_set.h"
#include "fedsign/fl/client/client.h"
#include "fedsign/fl/client/client_state.h"
#include "fedsign/train/precision.h"
#include "fedsign/train/train_config.h"

namespace fedsign::fl {

enum class BnMode { kAggregate, kLocal };  // local = FedBN
BnMode parse_bn_mode(const std::string& name);  // "aggregate" | "local"
std::string to_string(BnMode mode);

struct ClientData {
  data::Indices train;
  data::Indices test;
};

struct Faults {
  double dropout_prob = 0.0;
  double straggler_prob = 0.0;
  double straggler_min_fraction = 0.5;
  uint64_t seed = 0;
  // Pure functions of (seed, round, client).
  bool drops_out(int64_t round, ClientId id) const;
  double work_fraction(int64_t round, ClientId id) const;  // 1 for a non-straggler
};

// One model instance plus the local-training settings, lent to one client at a time.
class Worker {
 public:
  // `config` supplies model name, batch size, optimizer, augmentation, precision, seed.
  Worker(const train::TrainConfig& config, int64_t input_size, int64_t num_classes);
  models::Classifier& model() { return *model_; }
  std::shared_ptr<models::Classifier> model_ptr() { return model_; }
  const train::TrainConfig& config() const { return config_; }
  const train::ComputeMode& mode() const { return mode_; }
  // FedBN mask for a weights layout (computed once).
  const std::vector<bool>& batchnorm_mask(const Weights& layout);

 private:
  train::TrainConfig config_;
  train::ComputeMode mode_;
  std::shared_ptr<models::Classifier> model_;
  std::vector<bool> bn_mask_;
};

class LocalClient : public Client {
 public:
  // `states` is read, and written only for clients that need state (SCAFFOLD, FedBN); all
  // references must outlive the client.
  LocalClient(ClientId id, const data::ImageSet& set, const ClientData& data,
                  ClientStateStore& states, Worker& worker, BnMode bn_mode, const Faults& faults);
  // A client with its own single state (e.g. the network client on a device).
  LocalClient(ClientId id, const data::ImageSet& set, const ClientData& data,
                  ClientState& state, Worker& worker, BnMode bn_mode, const Faults& faults);
  FitResult fit(const FitIns& ins) override;
  EvaluateResult evaluate(const EvaluateIns& ins) override;

  // The seed of this client's distributed-DP noise in the following fits. Unset, it derives
  // from (training seed, round, client): repeatable, as a simulation must be. A device sets it
  // from its own randomness before each fit, so that the server cannot predict (and subtract)
  // the noise.
  void set_dp_noise_seed(uint64_t seed) { dp_noise_seed_ = seed; }

  // Steps of `epochs` passes over n images in batches of `batch` (a trailing batch of one is
  // skipped by the trainer).
  static int64_t steps_for_epochs(int64_t n, int64_t batch, int64_t epochs);

 private:
  void load_global(const Weights& global, const std::optional<ClientState>& state);
  // client_privatize on result.weights if `ins` is a DP round.
  void privatize(const FitIns& ins, int64_t round, FitResult& result) const;

  ClientId id_;
  const data::ImageSet& set_;
  const ClientData& data_;
  std::unique_ptr<ClientStateStore> own_states_;  // for the single-state constructor
  ClientStateStore& states_;
  Worker& worker_;
  BnMode bn_mode_;
  const Faults& faults_;
  std::optional<uint64_t> dp_noise_seed_;
};

}  // namespace fedsign::fl
