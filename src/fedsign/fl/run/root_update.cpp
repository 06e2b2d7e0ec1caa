#include "fedsign/fl/run/root_update.h"

#include <algorithm>
#include <memory>

#include "fedsign/core/check.h"
#include "fedsign/fl/client/local_client.h"
#include "fedsign/fl/client_manager.h"
#include "fedsign/fl/rng.h"

namespace fedsign::fl {

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

robust::ServerUpdateFn make_root_update(const data::ImageSet& set, data::Indices root,
                                        const train::TrainConfig& config, int64_t num_classes) {
  FEDSIGN_CHECK(!root.empty(), "FLTrust: the server's root set is empty");
  // Everything a LocalClient borrows, kept alive by the returned function.
  struct State {
    ClientData data;
    MemoryClientStateStore states;  // stays empty: the server trains like a stateless client
    Faults faults;                  // none
    std::unique_ptr<Worker> worker;
  };
  auto state = std::make_shared<State>();
  state->data.train = std::move(root);
  return [&set, config, num_classes, state](int64_t round, const Weights& global,
                                            const Config& fit_config) {
    if (!state->worker) state->worker = std::make_unique<Worker>(config, set.height, num_classes);
    // Id -1: no client has it, so the server's local shuffling never repeats a client's.
    LocalClient server(-1, set, state->data, state->states, *state->worker, BnMode::kAggregate,
                       state->faults);
    FitIns ins{global, fit_config, std::nullopt};
    ins.config[keys::kRound] = round;
    ins.config.erase(keys::kWorkFraction);  // the server is no straggler
    return server.fit(ins).weights;
  };
}

}  // namespace fedsign::fl
