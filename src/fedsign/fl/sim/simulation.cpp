#include "fedsign/fl/sim/simulation.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include "fedsign/core/check.h"
#include "fedsign/fl/attack/data_poisoning.h"
#include "fedsign/models/weights.h"
#include "fedsign/train/trainer.h"

namespace fedsign::fl {

namespace {

Worker make_worker(const SimulationConfig& config, const data::ImageSet& set) {
  train::configure_threads(config.local.threads);
  torch::manual_seed(config.seed);  // the initial global model
  return Worker(config.local, set.height, config.num_classes);
}

}  // namespace

Simulation::Simulation(const data::ImageSet& set, std::vector<ClientData> clients,
                       Strategy& strategy, SimulationConfig config)
    : set_(set),
      clients_(std::move(clients)),
      strategy_(strategy),
      config_(std::move(config)),
      manager_(static_cast<int64_t>(clients_.size())),
      worker_(make_worker(config_, set)) {
  FEDSIGN_CHECK(config_.dropout_prob >= 0 && config_.dropout_prob < 1,
                "client dropout probability {} not in [0, 1)", config_.dropout_prob);
  FEDSIGN_CHECK(config_.straggler_prob >= 0 && config_.straggler_prob <= 1,
                "straggler probability {} not in [0, 1]", config_.straggler_prob);
  FEDSIGN_CHECK(config_.straggler_min_fraction > 0 && config_.straggler_min_fraction <= 1,
                "straggler minimum fraction {} not in (0, 1]", config_.straggler_min_fraction);
  faults_ = {config_.dropout_prob, config_.straggler_prob, config_.straggler_min_fraction,
             config_.seed};
  if (config_.run.run_dir.empty()) {
    states_ = std::make_unique<MemoryClientStateStore>();
  } else {
    auto disk = std::make_unique<DiskClientStateStore>(config_.run.run_dir / "client_states");
    disk_states_ = disk.get();
    states_ = std::move(disk);
  }
  FEDSIGN_CHECK(config_.parallel_clients >= 1, "--parallel-clients {} must be >= 1",
                config_.parallel_clients);
  if (config_.parallel_clients > 1) {
    locked_states_ = std::make_unique<LockedClientStateStore>(*states_);
    // More models, initialized without moving the global generator (the run's initial model
    // is drawn above; nothing after it should depend on how many models exist).
    at::Generator global_rng = at::detail::getDefaultCPUGenerator();
    const at::Tensor rng_state = global_rng.get_state();
    for (int slot = 1; slot < config_.parallel_clients; ++slot) {
      slot_workers_.push_back(
          std::make_unique<Worker>(config_.local, set.height, config_.num_classes));
    }
    global_rng.set_state(rng_state);
    threads_ = std::make_unique<ClientThreads>(config_.parallel_clients, [](int) {
      torch::set_num_threads(1);  // this thread's intra-op team: one client per core
    });
  }
  if (auto initial = strategy_.initialize_parameters()) {
    global_ = std::move(*initial);
  } else {
    global_ = get_weights(worker_.model());
  }
  compress::validate(config_.compress);
  config_.attack.num_classes = static_cast<int>(config_.num_classes);
  attackers_ = attack::choose_attackers(config_.attack, static_cast<int64_t>(clients_.size()));
  for (ClientId id : attackers_) {
    const ClientData& own = clients_[static_cast<std::size_t>(id)];
    std::optional<data::ImageSet> poisoned =
        attack::poisoned_training_data(config_.attack, set_, own.train, id);
    if (!poisoned) continue;  // an update attacker: trains on its own images
    PoisonedData p{std::move(*poisoned), {}};
    p.data.train = data::all_indices(p.set);
    p.data.test = data::append(p.set, attack::image_copy(set_, own.test));
    poisoned_.emplace(id, std::move(p));
  }
  if (config_.attack.kind == "little-is-enough" && !attackers_.empty()) {
    colluding_ = std::make_unique<attack::ColludingStrategy>(
        strategy_, attackers_, config_.attack.lie_z, config_.attack.lie_omniscient);
  }
}

void Simulation::restore(const ServerCheckpoint& checkpoint) {
  if (disk_states_) {
    disk_states_->restore(checkpoint.client_states, previous_client_states(checkpoint_file()));
  }
}

void Simulation::start_fresh() {
  if (disk_states_) disk_states_->restore({});  // no states from an earlier run in this directory
}

void Simulation::before_round(int64_t round) {
  if (disk_states_) disk_states_->begin_round(round);
  traffic_.reset();
}

Metrics Simulation::round_columns(int64_t /*round*/) const {
  Metrics columns = {{"bytes_up", static_cast<double>(traffic_.bytes_up)},
                     {"bytes_down", static_cast<double>(traffic_.bytes_down)}};
  if (config_.attack.kind != "none") columns["attackers"] = static_cast<double>(traffic_.attackers);
  return columns;
}

void Simulation::before_checkpoint(int64_t /*round*/) {
  if (disk_states_) disk_states_->sync();
}

std::map<ClientId, int64_t> Simulation::client_states() const {
  return disk_states_ ? disk_states_->index() : std::map<ClientId, int64_t>{};
}

void Simulation::checkpoint_written(int64_t /*round*/) {
  if (disk_states_) disk_states_->commit();
}

SimulationResult Simulation::run(const RoundCallback& on_round) {
  // Client `id` on `worker`, its state in `states`.
  auto make = [this](ClientId id, Worker& worker,
                     ClientStateStore& states) -> std::unique_ptr<Client> {
    FEDSIGN_CHECK(id >= 0 && static_cast<std::size_t>(id) < clients_.size(), "no client {}", id);
    auto poisoned = poisoned_.find(id);
    const data::ImageSet& set = poisoned == poisoned_.end() ? set_ : poisoned->second.set;
    const ClientData& data = poisoned == poisoned_.end() ? clients_[static_cast<std::size_t>(id)]
                                                         : poisoned->second.data;
    auto local = std::make_unique<LocalClient>(id, set, data, states, worker, config_.bn, faults_);
    return std::make_unique<UploadClient>(std::move(local), id, attackers_.count(id) > 0,
                                          config_.attack, config_.compress, states, config_.seed,
                                          traffic_);
  };
  Strategy& strategy = colluding_ ? static_cast<Strategy&>(*colluding_) : strategy_;
  RunDriver driver(strategy, manager_, [&](ClientId id) { return make(id, worker_, *states_); },
                   config_.run, *this);
  if (threads_) {
    driver.train_in_parallel(*threads_, [&](ClientId id, int slot) {
      Worker& worker = slot == 0 ? worker_ : *slot_workers_[static_cast<std::size_t>(slot - 1)];
      return make(id, worker, *locked_states_);
    });
  }
  RunResult run = driver.run(global_, on_round);
  SimulationResult result;
  result.history = std::move(run.history);
  result.first_round = run.first_round;
  result.global = global_;
  result.client_states = states_->num_states();
  result.client_state_bytes = states_->bytes();
  return result;
}

void Simulation::save_global_model(const std::filesystem::path& file) {
  set_weights(worker_.model(), strategy_.released_model(global_));
  models::save_weights(worker_.model(), file);
}

}  // namespace fedsign::fl
