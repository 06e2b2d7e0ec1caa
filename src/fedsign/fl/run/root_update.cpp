#include "fedsign/fl/run/root_update.h"

#include <algorithm>
#include <memory>

#include "fedsign/core/check.h"
#include "fedsign/fl/client/local_client.h"
#include "fedsign/fl/client_manager.h"
#include "fedsign/fl/rng.h"
#include "fedsign/train/evaluate.h"

namespace fedsign::fl {

namespace {

// The server as a client of its own root set: everything a LocalClient borrows, kept alive by
// the functions below; the model instance is created on first use (after the run seeded torch).
struct RootClient {
  ClientData data;
  MemoryClientStateStore states;  // stays empty: the server trains like a stateless client
  Faults faults;                  // none
  std::unique_ptr<Worker> worker;

  Worker& worker_for(const data::ImageSet& set, const train::TrainConfig& config,
                     int64_t num_classes) {
    if (!worker) worker = std::make_unique<Worker>(config, set.height, num_classes);
    return *worker;
  }
  LocalClient client(const data::ImageSet& set, const train::TrainConfig& config,
                     int64_t num_classes) {
    // Id -1: no client has it, so the server's local shuffling never repeats a client's.
    return LocalClient(-1, set, data, states, worker_for(set, config, num_classes),
                       BnMode::kAggregate, faults);
  }
};

}  // namespace

data::Indices sample_root_set(const data::Indices& pool, int64_t count, uint64_t seed) {
  FEDSIGN_CHECK(count >= 1, "--fltrust-root {} must be >= 1", count);
  const auto n = static_cast<int64_t>(pool.size());
  data::Indices root;
  // The salt ("root") keeps this draw apart from the run's other uses of the seed.
  const uint64_t root_seed = derive_seed(seed, {0x726f6f74});
  for (int64_t k : sample_without_replacement(n, std::min(count, n), root_seed)) {
    root.push_back(pool[static_cast<std::size_t>(k)]);
  }
  return root;
}

bool needs_server_root(const RobustOptions& options) {
  return options.rule == "fltrust" || options.label_test_ratio > 0;
}

robust::ServerRoot make_server_root(const RobustOptions& options, const data::ImageSet& set,
                                    const data::Indices& pool, const train::TrainConfig& config,
                                    int64_t num_classes) {
  if (!needs_server_root(options)) return {};
  auto state = std::make_shared<RootClient>();
  state->data.train = sample_root_set(pool, options.fltrust_root, config.seed);
  FEDSIGN_CHECK(!state->data.train.empty(), "the server's root set is empty (no training images)");
  robust::ServerRoot root;
  root.update = [&set, config, num_classes, state](int64_t round, const Weights& global,
                                                   const Config& fit_config) {
    LocalClient server = state->client(set, config, num_classes);
    FitIns ins{global, fit_config, std::nullopt};
    ins.config[keys::kRound] = round;
    ins.config.erase(keys::kWorkFraction);  // the server is no straggler
    return server.fit(ins).weights;
  };
  root.labels = [&set, config, num_classes, state](const Weights& model) {
    Worker& worker = state->worker_for(set, config, num_classes);
    set_weights(worker.model(), model);
    const train::Predictions p = train::predict_subset(worker.model(), set, state->data.train,
                                                       worker.mode(), config.eval_batch_size);
    return robust::RootLabels{p.truth, p.predicted};
  };
  return root;
}

}  // namespace fedsign::fl
