// The simulation on tiny generated data: FedProx with mu = 0 is FedAvg, a resumed run equals an
// uninterrupted one bit for bit (stateful strategies, FedBN, faults, top-k residuals under
// FLTrust and attackers), dropout and stragglers, FedBN keeps BatchNorm on the clients, learning
// happens, run files are written, attackers and upload bytes are counted per round, and a
// client in a distributed-DP round clips and noises its update, repeatably.
#include "fedsign/fl/sim/simulation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <torch/torch.h>

#include <cmath>

#include "fedsign/core/check.h"
#include "fedsign/data/split.h"
#include "fedsign/data/partition.h"
#include "fedsign/fl/privacy/dp_fedavg.h"
#include "fedsign/fl/robust/wrap_robust.h"
#include "fedsign/fl/run/central_evaluator.h"
#include "fedsign/fl/run/root_update.h"
#include "fedsign/fl/run/server_checkpoint.h"
#include "fedsign/fl/strategy/model_ema.h"
#include "fedsign/fl/update.h"
#include "fedsign/models/registry.h"
#include "fedsign/models/weights.h"
#include "fedsign/report/run_charts.h"
#include "tests/testing/generated_data.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::fl {
namespace {

// One generated dataset for the whole file (6 classes x 4 tracks x 4 frames, 16 px).
class SimulationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new testing::GeneratedData({.num_classes = 6, .tracks_per_class = 4, .frames_per_track = 4},
                                       16);
    set_ = &data_->set;
    split_ = &data_->split;
  }
  static void TearDownTestSuite() { delete data_; }

  static std::vector<ClientData> clients(int64_t n, data::PartitionKind kind = data::PartitionKind::kIid) {
    data::PartitionConfig p;
    p.kind = kind;
    p.num_clients = n;
    p.alpha = 0.5;
    std::vector<ClientData> out;
    for (const auto& part : data::partition(*set_, split_->train, p)) {
      data::ClientSplit s = data::split_client_data(*set_, part, 0.2, 5);
      out.push_back({s.train, s.test});
    }
    return out;
  }

  static train::TrainConfig local(const std::string& model = "keras_cnn") {
    train::TrainConfig c;
    c.model = model;
    c.batch_size = 8;
    c.eval_batch_size = 64;
    c.optimizer.name = "sgd";
    c.optimizer.lr = 0.05;
    c.optimizer.momentum = 0.0;
    c.precision = "fp32";
    c.memory_format = "contiguous";
    c.threads = 1;
    c.seed = 3;
    return c;
  }

  static StrategyOptions strategy_options(const train::TrainConfig& config, int64_t per_round = 2,
                                          int64_t local_steps = 3) {
    StrategyOptions o;
    o.clients_per_round = per_round;
    o.seed = 9;
    o.fit_config[keys::kLocalSteps] = local_steps;
    o.fit_config[keys::kLr] = config.optimizer.lr;
    o.evaluate_fn = make_central_evaluator(*set_, split_->validation, config);
    return o;
  }

  static SimulationConfig sim_config(const train::TrainConfig& config, int64_t rounds) {
    SimulationConfig s;
    s.run.rounds = rounds;
    s.local = config;
    s.seed = 3;
    return s;
  }

  static SimulationResult simulate(const std::string& strategy, std::map<std::string, double> params,
                                   SimulationConfig sim, int64_t clients_n = 4,
                                   int64_t per_round = 2) {
    auto s = make_strategy(strategy, strategy_options(sim.local, per_round), params);
    Simulation simulation(*set_, clients(clients_n), *s, sim);
    return simulation.run();
  }
  static void expect_fallback_redoes_round_3(bool resume_first);

  static testing::GeneratedData* data_;
  static data::ImageSet* set_;
  static data::TrackSplit* split_;
};
testing::GeneratedData* SimulationTest::data_ = nullptr;
data::ImageSet* SimulationTest::set_ = nullptr;
data::TrackSplit* SimulationTest::split_ = nullptr;

TEST_F(SimulationTest, FedProxWithMuZeroIsFedAvg) {
  const auto config = local();
  const auto fedavg = simulate("fedavg", {}, sim_config(config, 2));
  const auto prox0 = simulate("fedprox", {{"proximal_mu", 0.0}}, sim_config(config, 2));
  const auto prox1 = simulate("fedprox", {{"proximal_mu", 1.0}}, sim_config(config, 2));
  EXPECT_TRUE(equal(fedavg.global, prox0.global));
  EXPECT_FALSE(equal(fedavg.global, prox1.global)) << "the proximal term must act when mu > 0";
  EXPECT_EQ(fedavg.history.back().central_accuracy, prox0.history.back().central_accuracy);
  EXPECT_LT(max_abs_diff(fedavg.global, prox1.global), 1.0) << "but not wildly";
}

TEST_F(SimulationTest, LearnsAndWritesTheRunDirectory) {
  testing::TempDir tmp;
  auto config = local();
  config.optimizer.lr = 0.1;
  auto sim = sim_config(config, 8);
  sim.run.run_dir = tmp / "run";
  sim.run.eval_every = 2;
  auto s = make_strategy("fedavg", strategy_options(config, 3, 6));
  Simulation simulation(*set_, clients(4), *s, sim);
  std::vector<int64_t> rounds_seen;
  const auto result = simulation.run([&](const RoundMetrics& m) { rounds_seen.push_back(m.round); });
  ASSERT_EQ(result.history.size(), 8u);
  EXPECT_EQ(rounds_seen.size(), 8u);
  EXPECT_FALSE(std::isfinite(result.history[0].central_accuracy)) << "evaluated every 2nd round";
  EXPECT_TRUE(std::isfinite(result.history[1].central_accuracy));
  EXPECT_TRUE(std::isfinite(result.history[1].federated_accuracy));
  EXPECT_GT(result.history.back().central_accuracy, 1.0 / 6 + 0.15) << "beats chance";
  EXPECT_LT(result.history.back().train_loss, result.history.front().train_loss);
  for (const auto& m : result.history) {
    EXPECT_EQ(m.clients_sampled, 3);
    EXPECT_GT(m.train_seconds, 0);
    EXPECT_GE(m.overhead_seconds, 0);
  }
  for (const char* f : {"metrics.csv", "accuracy.png", "loss.png", "server.ckpt"}) {
    EXPECT_TRUE(std::filesystem::exists(sim.run.run_dir / f)) << f;
  }
  simulation.save_global_model(sim.run.run_dir / "model.pt");
  EXPECT_TRUE(std::filesystem::exists(sim.run.run_dir / "model.pt"));
  const report::RunSeries acc = report::read_run_series(sim.run.run_dir, "central_accuracy");
  EXPECT_EQ(acc.x, (std::vector<double>{2, 4, 6, 8}));
  report::save_comparison_plot(tmp / "compare.png", {sim.run.run_dir, sim.run.run_dir}, "central_accuracy", {"a", "b"});
  EXPECT_TRUE(std::filesystem::exists(tmp / "compare.png"));
}

// --model-ema: model.pt is the moving average, not the last global model, and a resumed run
// continues the average exactly (it is in the checkpoint).
TEST_F(SimulationTest, ModelEmaIsWhatIsSavedAndItSurvivesResume) {
  testing::TempDir tmp;
  const auto config = local();
  auto run = [&](const std::filesystem::path& dir, int64_t rounds, bool resume) {
    auto sim = sim_config(config, rounds);
    sim.run.run_dir = dir;
    sim.run.resume = resume;
    ModelEma ema(make_strategy("fedavg", strategy_options(config)), 0.5);
    Simulation simulation(*set_, clients(4), ema, sim);
    const SimulationResult result = simulation.run();
    simulation.save_global_model(dir / "model.pt");
    return std::make_pair(result.global, ema.released_model(result.global));
  };
  const auto [global, average] = run(tmp / "straight", 3, false);
  EXPECT_FALSE(equal(global, average));
  models::ModelOptions options;
  options.input_size = set_->height;
  auto model = models::create_model(config.model, options);
  models::load_weights(*model, tmp / "straight" / "model.pt");
  EXPECT_TRUE(equal(get_weights(*model), average)) << "model.pt must be the average";

  run(tmp / "resumed", 2, false);
  const auto [resumed_global, resumed_average] = run(tmp / "resumed", 3, true);
  EXPECT_TRUE(equal(resumed_global, global));
  EXPECT_TRUE(equal(resumed_average, average));
}

// Resume: run 2 of 4 rounds, then continue in a fresh Simulation and strategy; the global
// weights must equal those of an uninterrupted 4-round run bit for bit.
class ResumeTest : public SimulationTest,
                   public ::testing::WithParamInterface<std::string> {};

TEST_P(ResumeTest, ResumedRunEqualsUninterruptedRun) {
  testing::TempDir tmp;
  const auto config = local();
  std::map<std::string, double> params = {{"server_lr", 0.5}};
  auto sim = sim_config(config, 4);
  sim.dropout_prob = 0.2;
  sim.straggler_prob = 0.5;
  sim.run.run_dir = tmp / "straight";
  const auto straight = simulate(GetParam(), params, sim);

  sim.run.run_dir = tmp / "resumed";
  sim.run.rounds = 2;
  simulate(GetParam(), params, sim);
  sim.run.rounds = 4;
  sim.run.resume = true;
  const auto resumed = simulate(GetParam(), params, sim);
  EXPECT_EQ(resumed.first_round, 3);
  ASSERT_EQ(resumed.history.size(), 4u);
  EXPECT_TRUE(equal(straight.global, resumed.global)) << GetParam();
  EXPECT_EQ(straight.history.back().central_loss, resumed.history.back().central_loss);
  EXPECT_EQ(straight.history.back().failures, resumed.history.back().failures);
}

INSTANTIATE_TEST_SUITE_P(Strategies, ResumeTest,
                         ::testing::Values("fedavg", "fedavgm", "fedadam", "scaffold"));

// The latest checkpoint torn after round 3 of 4: --resume falls back to FILE.prev (round 2),
// whose clients' SCAFFOLD states must still be on disk although round 3 superseded them, and
// the run then ends exactly as an uninterrupted one. `resume_first`: a resume read the latest
// checkpoint (and had nothing to run) before it went bad; it must not have removed the states
// of the previous one.
void SimulationTest::expect_fallback_redoes_round_3(bool resume_first) {
  testing::TempDir tmp;
  const auto config = local();
  auto sim = sim_config(config, 4);
  sim.run.run_dir = tmp / "straight";
  const auto straight = simulate("scaffold", {}, sim, 4, 4);

  sim.run.run_dir = tmp / "torn";
  sim.run.rounds = 3;
  simulate("scaffold", {}, sim, 4, 4);
  sim.run.resume = true;
  if (resume_first) EXPECT_EQ(simulate("scaffold", {}, sim, 4, 4).first_round, 4);
  const std::filesystem::path latest = tmp / "torn" / "server.ckpt";
  std::filesystem::resize_file(latest, std::filesystem::file_size(latest) / 2);
  sim.run.rounds = 4;
  const auto resumed = simulate("scaffold", {}, sim, 4, 4);
  EXPECT_EQ(resumed.first_round, 3) << "round 3 is redone from the previous generation";
  EXPECT_TRUE(equal(straight.global, resumed.global));
  EXPECT_EQ(straight.history.back().central_loss, resumed.history.back().central_loss);
}

TEST_F(SimulationTest, FallbackToThePreviousCheckpointFindsItsClientStates) {
  expect_fallback_redoes_round_3(false);
}

TEST_F(SimulationTest, FallbackAfterANormalResumeFindsItsClientStates) {
  expect_fallback_redoes_round_3(true);
}

TEST_F(SimulationTest, ResumeWithFedBnAndBatchNormModel) {
  testing::TempDir tmp;
  const auto config = local("compact");
  auto sim = sim_config(config, 3);
  sim.bn = BnMode::kLocal;
  sim.run.run_dir = tmp / "straight";
  const auto straight = simulate("fedyogi", {}, sim, 3, 2);
  EXPECT_GT(straight.client_state_bytes, 0) << "FedBN keeps BN tensors on the clients";

  sim.run.run_dir = tmp / "resumed";
  sim.run.rounds = 1;
  simulate("fedyogi", {}, sim, 3, 2);
  sim.run.rounds = 3;
  sim.run.resume = true;
  EXPECT_TRUE(equal(straight.global, simulate("fedyogi", {}, sim, 3, 2).global));

  // Resuming with different settings, or a missing checkpoint, is refused with a clear error.
  sim.run.settings_json = R"({"lr": "0.5"})";
  EXPECT_THROW(simulate("fedyogi", {}, sim, 3, 2), fedsign::Error);
  sim.run.run_dir = tmp / "nothing";
  sim.run.settings_json = "{}";
  try {
    simulate("fedyogi", {}, sim, 3, 2);
    FAIL() << "expected an error";
  } catch (const fedsign::Error& e) {
    EXPECT_NE(std::string(e.what()).find("server.ckpt"), std::string::npos) << e.what();
  }
}

TEST_F(SimulationTest, FedBnKeepsBatchNormOnTheClients) {
  const auto config = local("compact");
  Worker worker(config, set_->height, 43);
  const Weights global = get_weights(worker.model());
  const auto data = clients(3);
  MemoryClientStateStore states;
  Faults faults;
  FitIns ins{global, {{keys::kLocalSteps, int64_t{2}}, {keys::kRound, int64_t{1}}}, std::nullopt};

  LocalClient fedbn(0, *set_, data[0], states, worker, BnMode::kLocal, faults);
  const FitResult r = fedbn.fit(ins);
  const auto mask = worker.batchnorm_mask(global);
  ASSERT_TRUE(states.load(0).has_value());
  ASSERT_TRUE(states.load(0)->local_bn.has_value());
  EXPECT_TRUE(equal(*states.load(0)->local_bn, select(r.weights, mask)));

  // Evaluating the global model: the FedBN client uses its own BN tensors, so its result
  // differs from a client that takes the global BN.
  EvaluateIns eval{global, {}};
  MemoryClientStateStore empty;
  LocalClient plain(0, *set_, data[0], empty, worker, BnMode::kAggregate, faults);
  EXPECT_NE(fedbn.evaluate(eval).loss, plain.evaluate(eval).loss);
  EXPECT_FALSE(empty.load(0).has_value()) << "no state for clients that need none";
}

TEST_F(SimulationTest, DropoutAndStragglers) {
  // Faults are pure functions of (seed, round, client) with the configured rates.
  Faults faults{0.3, 0.4, 0.25, 17};
  int drops = 0, stragglers = 0;
  for (int64_t round = 1; round <= 100; ++round) {
    for (ClientId id = 0; id < 100; ++id) {
      drops += faults.drops_out(round, id);
      const double f = faults.work_fraction(round, id);
      EXPECT_EQ(f, faults.work_fraction(round, id));
      ASSERT_GE(f, 0.25);
      ASSERT_LE(f, 1.0);
      stragglers += f < 1.0;
    }
  }
  EXPECT_NEAR(drops / 1e4, 0.3, 0.02);
  EXPECT_NEAR(stragglers / 1e4, 0.4, 0.02);

  // A straggler does only part of its steps; a dropped client throws ClientDropout.
  const auto config = local();
  Worker worker(config, set_->height, 43);
  const auto data = clients(2);
  MemoryClientStateStore states;
  FitIns ins{get_weights(worker.model()),
             {{keys::kLocalSteps, int64_t{8}}, {keys::kRound, int64_t{1}}}, std::nullopt};
  Faults none;
  EXPECT_EQ(LocalClient(0, *set_, data[0], states, worker, BnMode::kAggregate, none)
                .fit(ins).metrics.at("steps"), 8);
  Faults slow{0.0, 1.0, 0.25, 1};
  const double steps = LocalClient(0, *set_, data[0], states, worker, BnMode::kAggregate, slow)
                           .fit(ins).metrics.at("steps");
  EXPECT_GE(steps, 2);
  EXPECT_LT(steps, 8);
  Faults gone{0.999, 0.0, 1.0, 1};
  EXPECT_THROW(LocalClient(0, *set_, data[0], states, worker, BnMode::kAggregate, gone).fit(ins),
               ClientDropout);

  // In a run, dropped clients are failures; the rest are aggregated; runs repeat exactly.
  auto sim = sim_config(config, 6);
  sim.dropout_prob = 0.5;
  const auto a = simulate("fedavg", {}, sim, 4, 4);
  const auto b = simulate("fedavg", {}, sim, 4, 4);
  int64_t failures = 0;
  for (const auto& m : a.history) {
    failures += m.failures;
    EXPECT_EQ(m.clients_trained + m.failures, 4);
  }
  EXPECT_GT(failures, 0);
  EXPECT_LT(failures, 24);
  EXPECT_TRUE(equal(a.global, b.global));
}

ClientState control_state(std::vector<float> values) {
  ClientState s;
  s.control = Weights{{"w"}, {torch::tensor(values)}};
  return s;
}

TEST(ClientStates, DiskStoreKeepsVersionsUntilCommitted) {
  testing::TempDir tmp;
  DiskClientStateStore store(tmp / "states");
  ClientState s = control_state({1.0f, 2.0f});
  store.begin_round(1);
  store.save(7, s);
  store.commit();
  const auto committed = store.index();  // {7: 1}, as a checkpoint would record it
  store.begin_round(2);
  s.control->tensors[0] = torch::tensor({3.0f, 4.0f});
  store.save(7, s);
  store.save(8, s);
  // Until commit, the version of round 1 stays (an interrupted round 2 can be redone).
  EXPECT_TRUE(std::filesystem::exists(store.file(7, 1)));
  EXPECT_TRUE(equal(*store.load(7)->control, *s.control));
  EXPECT_GT(store.bytes(), 0);
  // Resuming from the round-1 checkpoint drops round 2's files.
  DiskClientStateStore resumed(tmp / "states");
  resumed.restore(committed);
  EXPECT_FALSE(std::filesystem::exists(store.file(7, 2)));
  EXPECT_FALSE(std::filesystem::exists(store.file(8, 2)));
  EXPECT_EQ(resumed.num_states(), 1);
  EXPECT_TRUE(torch::equal(resumed.load(7)->control->tensors[0], torch::tensor({1.0f, 2.0f})));
  EXPECT_FALSE(resumed.load(8).has_value());
  // Committing removes superseded versions once no checkpoint kept on disk refers to them: the
  // one of round 1 stays while the round-1 checkpoint is the server's previous generation.
  resumed.begin_round(2);
  resumed.save(7, s);
  resumed.commit();
  EXPECT_TRUE(std::filesystem::exists(store.file(7, 1)));
  EXPECT_TRUE(std::filesystem::exists(store.file(7, 2)));
  resumed.begin_round(3);
  resumed.save(7, s);
  resumed.commit();
  EXPECT_FALSE(std::filesystem::exists(store.file(7, 1)));
  EXPECT_TRUE(std::filesystem::exists(store.file(7, 2)));
  EXPECT_TRUE(std::filesystem::exists(store.file(7, 3)));
}

// The checkpoint is written durably, and it refers to the round's state files: sync() forces
// each file saved since the last sync to disk, once however often its client saved in the round.
TEST(ClientStates, DiskStoreSyncsTheRoundsFilesOnce) {
  testing::TempDir tmp;
  DiskClientStateStore store(tmp / "states");
  const ClientState s = control_state({1.0f, 2.0f});
  store.begin_round(1);
  store.save(7, s);
  store.save(7, s);  // e.g. SCAFFOLD's control, then top-k's residual
  store.save(8, s);
  EXPECT_EQ(store.num_unsynced(), 2);
  store.sync();
  EXPECT_EQ(store.num_unsynced(), 0);
  store.begin_round(2);
  store.save(8, s);
  EXPECT_EQ(store.num_unsynced(), 1);
  std::filesystem::remove(store.file(8, 2));
  EXPECT_THROW(store.sync(), fedsign::Error) << "a state file that cannot be synced is an error, not skipped";
}

// FLTrust (the server trains on 8 root images each round) against 2 sign-flipping attackers of
// 4 clients, all 4 in every round, uploading top-10% updates with error feedback.
TEST_F(SimulationTest, FlTrustAgainstSignFlipWithTopKUploadsResumes) {
  testing::TempDir tmp;
  const auto config = local();
  auto run = [&](const std::string& dir, int64_t rounds, bool resume) {
    auto sim = sim_config(config, rounds);
    sim.run.run_dir = tmp / dir;
    sim.run.resume = resume;
    sim.attack.kind = "sign-flip";
    sim.attack.fraction = 0.5;
    sim.attack.seed = 1;
    sim.compress.codec = "topk";
    sim.compress.topk_fraction = 0.1;
    sim.compress.topk_dense_up_to = 0;  // every tensor sparsified, however small
    RobustOptions robust;
    robust.rule = "fltrust";
    robust.fltrust_root = 8;
    auto strategy = wrap_robust(make_strategy("fedavg", strategy_options(config, 4)), robust,
                                make_server_root(robust, *set_, split_->train, config));
    Simulation simulation(*set_, clients(4), *strategy, sim);
    EXPECT_EQ(simulation.attackers().size(), 2u);
    return simulation.run();
  };
  const SimulationResult straight = run("straight", 3, false);
  ASSERT_EQ(straight.history.size(), 3u);
  for (const auto& m : straight.history) {
    EXPECT_EQ(m.columns.at("attackers"), 2);
    EXPECT_GE(m.columns.at("robust_trusted"), 0);
    EXPECT_LE(m.columns.at("robust_trusted"), 4);
    EXPECT_GT(m.columns.at("bytes_up"), 0);
    // 10% of the values at 8 bytes each against 4 bytes for every value going down.
    EXPECT_LT(m.columns.at("bytes_up"), m.columns.at("bytes_down") / 4);
  }
  EXPECT_EQ(straight.client_states, 4) << "every client keeps its top-k residual";
  // Interrupted after round 2 and resumed: the residuals come back from the checkpointed client
  // states, so round 3 repeats the uninterrupted run exactly.
  run("resumed", 2, false);
  const SimulationResult resumed = run("resumed", 3, true);
  EXPECT_EQ(resumed.first_round, 3);
  EXPECT_TRUE(equal(straight.global, resumed.global));
  EXPECT_EQ(straight.history.back().columns, resumed.history.back().columns);
}

// Clients trained at once (--parallel-clients) give the run of one client after another: a
// model with dropout (keras_cnn, 0.5), SCAFFOLD's states on disk, top-k residuals, simulated
// dropouts and stragglers; the same models, losses, failures and bytes.
TEST_F(SimulationTest, ParallelClientsGiveTheSequentialRun) {
  testing::TempDir tmp;
  const auto config = local();
  auto run = [&](int parallel) {
    auto sim = sim_config(config, 3);
    sim.run.run_dir = tmp / std::to_string(parallel);
    sim.dropout_prob = 0.2;
    sim.straggler_prob = 0.5;
    sim.compress.codec = "topk";
    sim.compress.topk_fraction = 0.1;
    sim.parallel_clients = parallel;
    auto strategy = make_strategy("scaffold", strategy_options(config, 5), {});
    Simulation simulation(*set_, clients(6), *strategy, sim);
    return simulation.run();
  };
  const SimulationResult one = run(1);
  const SimulationResult three = run(3);
  EXPECT_TRUE(equal(one.global, three.global));
  ASSERT_EQ(one.history.size(), three.history.size());
  int64_t failures = 0;
  for (std::size_t r = 0; r < one.history.size(); ++r) {
    EXPECT_EQ(one.history[r].train_loss, three.history[r].train_loss) << "round " << r + 1;
    EXPECT_EQ(one.history[r].central_loss, three.history[r].central_loss) << "round " << r + 1;
    EXPECT_EQ(one.history[r].failures, three.history[r].failures) << "round " << r + 1;
    EXPECT_EQ(one.history[r].columns, three.history[r].columns) << "round " << r + 1;
    EXPECT_GT(three.history[r].train_seconds, 0);
    failures += one.history[r].failures;
  }
  EXPECT_GT(failures, 0) << "the dropouts should have hit someone";
  EXPECT_EQ(one.client_states, three.client_states);
  EXPECT_THROW(run(0), fedsign::Error);
}

TEST_F(SimulationTest, SampleRootSet) {
  data::Indices pool;
  for (int64_t i = 1000; i < 1100; ++i) pool.push_back(i);
  const data::Indices root = sample_root_set(pool, 10, 7);
  ASSERT_EQ(root.size(), 10u);
  EXPECT_TRUE(std::is_sorted(root.begin(), root.end()));
  EXPECT_EQ(std::adjacent_find(root.begin(), root.end()), root.end()) << "no image twice";
  for (int64_t i : root) EXPECT_TRUE(i >= 1000 && i < 1100) << i;
  EXPECT_EQ(sample_root_set(pool, 10, 7), root);
  EXPECT_NE(sample_root_set(pool, 10, 8), root);  // another seed, (almost surely) another set
  EXPECT_EQ(sample_root_set(pool, 500, 7), pool);  // all of a smaller pool
  EXPECT_THROW(sample_root_set(pool, 0, 7), fedsign::Error);
}

TEST_F(SimulationTest, LocalEpochsCountSteps) {
  EXPECT_EQ(LocalClient::steps_for_epochs(17, 8, 2), 2 * 2);  // 8 + 8 + 1 (skipped)
  EXPECT_EQ(LocalClient::steps_for_epochs(18, 8, 1), 3);      // 8 + 8 + 2
  EXPECT_EQ(LocalClient::steps_for_epochs(5, 8, 3), 3);
  EXPECT_EQ(LocalClient::steps_for_epochs(0, 8, 3), 0);
}

TEST_F(SimulationTest, DistributedDpClientClipsAndNoisesRepeatably) {
  const auto config = local();
  Worker worker(config, 16, 43);
  MemoryClientStateStore states;
  const Faults faults;
  const std::vector<ClientData> data = clients(4);
  LocalClient client(1, *set_, data[1], states, worker, BnMode::kAggregate, faults);
  const double clip = 0.01;
  FitIns ins;
  ins.weights = get_weights(worker.model());
  ins.config = {{keys::kRound, int64_t{2}}, {keys::kLocalSteps, int64_t{3}}, {keys::kLr, 0.05},
                {privacy::dp_keys::kMode, std::string("distributed")},
                {privacy::dp_keys::kClip, clip}, {privacy::dp_keys::kClientNoise, 0.0}};
  // No noise: the update leaves the client clipped (3 SGD steps move the model far more).
  const FitResult clipped = client.fit(ins);
  const double norm = delta_norm(ins.weights, clipped.weights);
  EXPECT_LE(norm, clip * 1.01) << "float32 rounding aside";
  EXPECT_GT(norm, clip * 0.9);
  EXPECT_EQ(clipped.metrics.at(privacy::dp_keys::kUnclipped), 0.0);

  // Noise: seeded by (seed, round, client), so a repeated fit sends the same model, and the
  // noise on top of the same clipped update has the stated stddev.
  const double stddev = 0.05;
  ins.config[privacy::dp_keys::kClientNoise] = stddev;
  const FitResult a = client.fit(ins), b = client.fit(ins);
  EXPECT_TRUE(equal(a.weights, b.weights));
  int64_t coordinates = 0;
  for (const auto& t : ins.weights.tensors) coordinates += t.is_floating_point() ? t.numel() : 0;
  const double noise = delta_norm(clipped.weights, a.weights);
  EXPECT_NEAR(noise / (stddev * std::sqrt(static_cast<double>(coordinates))), 1.0, 0.05);
  // A device's own seed (the network client's) gives other noise.
  client.set_dp_noise_seed(12345);
  EXPECT_FALSE(equal(client.fit(ins).weights, a.weights));

  // Central mode: the server clips; the client sends its model as trained.
  ins.config[privacy::dp_keys::kMode] = std::string("central");
  const FitResult central = client.fit(ins);
  EXPECT_GT(delta_norm(ins.weights, central.weights), 5 * clip);
  EXPECT_EQ(central.metrics.count(privacy::dp_keys::kUnclipped), 0u);
}

}  // namespace
}  // namespace fedsign::fl
