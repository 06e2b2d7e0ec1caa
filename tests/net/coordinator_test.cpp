// The coordinator's security and timing rules without processes: sessions (CSPRNG, bound to
// the caller's identity and connection), claims (declared example counts, deadlines), the
// upload deadline of a claimed task, that a late update cannot land in a later round nor in
// its own round once its task failed, that a non-finite aggregate is never the new model, and
// which of a client's updates the model holds.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <future>
#include <set>

#include "fedsign/fl/strategy/strategy.h"
#include "fedsign/fl/update.h"
#include "fedsign/fl/weights.h"
#include "fedsign/net/coordinator.h"
#include "fedsign/net/round_adapter.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::net {
namespace {

using namespace std::chrono_literals;

struct Fixture {
  explicit Fixture(CoordinatorOptions options = {}) : coordinator(options, tokens) {}
  TokenStore tokens;  // disabled: callers present a certificate identity instead
  Coordinator coordinator;

  std::string join(const std::string& name, const std::string& peer, int64_t train = 100,
                   int64_t test = 20, Status* status = nullptr) {
    std::string session;
    fl::ClientId id = 0;
    Status s = coordinator.register_client(name, "", {"", name, peer}, train, test, &session, &id);
    if (status) *status = s;
    return session;
  }
};

std::shared_ptr<Task> make_task(fl::ClientId client, int64_t round, std::chrono::milliseconds in) {
  auto task = std::make_shared<Task>();
  task->id = "t" + std::to_string(round);
  task->client = client;
  task->round = round;
  task->model_version = round - 1;
  task->deadline = Clock::now() + in;
  return task;
}

TEST(Sessions, AreLongRandomAndBoundToIdentityAndConnection) {
  Fixture f;
  const std::string a = f.join("alice", "ipv4:127.0.0.1:5000");
  const std::string b = f.join("bob", "ipv4:127.0.0.1:5001");
  EXPECT_EQ(a.size(), 64u);  // 256 bits, hex
  EXPECT_NE(a, b);
  int64_t round = 0;
  EXPECT_TRUE(f.coordinator.heartbeat({a, "alice", "ipv4:127.0.0.1:5000"}, "idle", &round).ok());
  // The same session id from another connection, or with another certificate: as unknown.
  EXPECT_EQ(f.coordinator.heartbeat({a, "alice", "ipv4:127.0.0.1:6666"}, "idle", &round).code,
            Code::kNotFound);
  EXPECT_EQ(f.coordinator.heartbeat({a, "bob", "ipv4:127.0.0.1:5000"}, "idle", &round).code,
            Code::kNotFound);
  std::shared_ptr<Task> task;
  bool shutdown = false;
  EXPECT_EQ(f.coordinator.next_task({a, "bob", "ipv4:127.0.0.1:5001"}, 0ms, &task, &shutdown).code,
            Code::kNotFound);
  // The rightful owner is not disturbed by the attempts.
  EXPECT_TRUE(f.coordinator.heartbeat({a, "alice", "ipv4:127.0.0.1:5000"}, "idle", &round).ok());

  // Random in every hex digit, not a counter or a constant: each id uses many digits, and each
  // position takes many values across ids. For 256 random bits, fewer than 8 of the 16 digits
  // in one id (or at one position of 64 ids) has a probability below 1e-18.
  std::vector<std::string> ids;
  for (int i = 0; i < 64; ++i) {
    ids.push_back(f.join("c" + std::to_string(i), "ipv4:127.0.0.1:" + std::to_string(7000 + i)));
    ASSERT_EQ(ids.back().size(), 64u);
  }
  for (const std::string& id : ids) {
    EXPECT_GE(std::set<char>(id.begin(), id.end()).size(), 8u) << id;
  }
  for (std::size_t position = 0; position < 64; ++position) {
    std::set<char> values;
    for (const std::string& id : ids) values.insert(id[position]);
    EXPECT_GE(values.size(), 8u) << "hex position " << position;
  }
}

TEST(Sessions, DeclaredExampleCountsAreBounded) {
  CoordinatorOptions options;
  options.max_examples = 1000;
  Fixture f(options);
  Status s;
  f.join("greedy", "p", 1001, 0, &s);
  EXPECT_EQ(s.code, Code::kInvalidArgument) << s.to_string();
  f.join("liar", "p", -1, 0, &s);
  EXPECT_EQ(s.code, Code::kInvalidArgument);
  f.join("honest", "p", 1000, 10, &s);
  EXPECT_TRUE(s.ok());
}

TEST(Claims, CarryTheDeclaredCountAndAnUploadDeadline) {
  CoordinatorOptions options;
  options.upload_timeout = 300ms;
  Fixture f(options);
  const std::string s = f.join("alice", "p", 77, 5);
  auto task = make_task(0, 1, 60s);
  f.coordinator.post(task);
  std::shared_ptr<Task> got;
  bool shutdown = false;
  ASSERT_TRUE(f.coordinator.next_task({s, "alice", "p"}, 0ms, &got, &shutdown).ok());
  ASSERT_EQ(got, task);
  std::shared_ptr<Task> claimed;
  ASSERT_TRUE(f.coordinator.claim({s, "alice", "p"}, task->id, TaskKind::kFit, 1, 0, &claimed).ok());
  EXPECT_EQ(claimed->declared_examples, 77);
  // Until it gets an upload slot, the round deadline (+ grace) bounds it; then the upload timeout.
  EXPECT_GT(claimed->upload_deadline, task->deadline);
  const auto start = Clock::now();
  EXPECT_LT(f.coordinator.begin_upload(task), start + 1s);
  // The upload never finishes: the round loop's wait ends at the upload deadline, long before
  // the 60 s round deadline.
  auto waited = std::async(std::launch::async, [&] { return f.coordinator.wait(task); });
  ASSERT_EQ(waited.wait_for(5s), std::future_status::ready) << "wait() ignores the upload deadline";
  EXPECT_EQ(waited.get(), Task::State::kFailed);
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_EQ(task->error, "upload deadline passed");
  // ... and the late update can no longer be committed.
  EXPECT_FALSE(f.coordinator.commit(task));
  f.coordinator.complete(task);  // the service finishing late changes nothing
  EXPECT_EQ(task->state, Task::State::kFailed);
}

TEST(Claims, AfterTheRoundDeadlineAreRefused) {
  Fixture f;
  const std::string s = f.join("alice", "p");
  auto task = make_task(0, 1, 50ms);
  f.coordinator.post(task);
  std::shared_ptr<Task> got;
  bool shutdown = false;
  ASSERT_TRUE(f.coordinator.next_task({s, "alice", "p"}, 0ms, &got, &shutdown).ok());
  std::this_thread::sleep_for(100ms);
  std::shared_ptr<Task> claimed;
  EXPECT_EQ(f.coordinator.claim({s, "alice", "p"}, task->id, TaskKind::kFit, 1, 0, &claimed).code,
            Code::kFailedPrecondition);
}

fl::Weights tiny_model() {
  fl::Weights w;
  w.names = {"w"};
  w.tensors = {torch::zeros({3})};
  return w;
}

// The server checks every upload against the round's global model: its norm (the automatic
// bound is 10x it) is computed once when the round's tasks are made, not once per upload.
TEST(Fold, FitTasksCarryTheRoundsGlobalNorm) {
  Fixture f;
  f.join("alice", "p");
  fl::StrategyOptions options;
  auto fedavg = fl::make_strategy("fedavg", options);
  DispatchingStrategy dispatch(*fedavg, f.coordinator, 60s);
  NetClientManager manager(f.coordinator);
  fl::Weights global = tiny_model();
  global.tensors[0] = torch::tensor({3.0f, 4.0f, 0.0f});
  dispatch.configure_fit(1, global, manager);
  auto task = dispatch.task_for(0, TaskKind::kFit);
  ASSERT_NE(task, nullptr);
  EXPECT_DOUBLE_EQ(task->layout_norm, 5.0);
  EXPECT_DOUBLE_EQ(task->layout_norm, fl::l2_norm(*task->layout));
}

// A late update of round 1 must not be added to round 2's aggregate.
TEST(Fold, RefusesAnUpdateOfAnotherRound) {
  Fixture f;
  const std::string s = f.join("alice", "p");
  fl::StrategyOptions options;
  auto fedavg = fl::make_strategy("fedavg", options);
  DispatchingStrategy dispatch(*fedavg, f.coordinator, 60s);
  NetClientManager manager(f.coordinator);
  const fl::Weights global = tiny_model();

  dispatch.configure_fit(1, global, manager);
  auto round1 = dispatch.task_for(0, TaskKind::kFit);
  ASSERT_NE(round1, nullptr);
  std::shared_ptr<Task> got;
  bool shutdown = false;
  ASSERT_TRUE(f.coordinator.next_task({s, "alice", "p"}, 0ms, &got, &shutdown).ok());
  std::shared_ptr<Task> claimed;
  ASSERT_TRUE(f.coordinator.claim({s, "alice", "p"}, round1->id, TaskKind::kFit, 1, 0, &claimed).ok());
  // Round 1 closes without the update; round 2 opens.
  dispatch.begin_aggregate_fit(1, global)->finish({});
  dispatch.configure_fit(2, global, manager);

  fl::FitResult late;
  late.weights = global;
  late.weights.tensors[0] = torch::full({3}, 1000.0f);
  late.num_examples = 10;
  const Status st = dispatch.fold(round1, late);
  EXPECT_EQ(st.code, Code::kFailedPrecondition) << st.to_string();
  // Round 2's aggregate holds nothing of it.
  fl::AggregateFitResult out = dispatch.begin_aggregate_fit(2, global)->finish({});
  EXPECT_TRUE(torch::equal(out.weights.tensors[0], global.tensors[0]));
}

// Delivers and claims the one client's FIT task of the open round, as the service does when a
// result stream's header arrives.
std::shared_ptr<Task> claim_fit_task(Fixture& f, DispatchingStrategy& dispatch,
                                     const std::string& session, int64_t round) {
  auto task = dispatch.task_for(0, TaskKind::kFit);
  EXPECT_NE(task, nullptr);
  if (!task) return nullptr;
  std::shared_ptr<Task> got;
  bool shutdown = false;
  EXPECT_TRUE(f.coordinator.next_task({session, "alice", "p"}, 0ms, &got, &shutdown).ok());
  std::shared_ptr<Task> claimed;
  const Status s = f.coordinator.claim({session, "alice", "p"}, task->id, TaskKind::kFit, round,
                                       round - 1, &claimed);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return claimed;
}

// The round loop fails a claimed task at its upload deadline; the update arriving after that,
// still within the same open round, must not be folded.
TEST(Fold, RefusesAnUpdateWhoseTaskFailedAtItsUploadDeadline) {
  CoordinatorOptions options;
  options.upload_timeout = 100ms;
  Fixture f(options);
  const std::string s = f.join("alice", "p");
  fl::StrategyOptions strategy_options;
  auto fedavg = fl::make_strategy("fedavg", strategy_options);
  DispatchingStrategy dispatch(*fedavg, f.coordinator, 60s);
  NetClientManager manager(f.coordinator);
  const fl::Weights global = tiny_model();

  dispatch.configure_fit(1, global, manager);
  std::shared_ptr<Task> task = claim_fit_task(f, dispatch, s, 1);
  ASSERT_NE(task, nullptr);
  f.coordinator.begin_upload(task);
  auto waited = std::async(std::launch::async, [&] { return f.coordinator.wait(task); });
  ASSERT_EQ(waited.wait_for(5s), std::future_status::ready) << "wait() ignores the upload deadline";
  ASSERT_EQ(waited.get(), Task::State::kFailed);

  fl::FitResult late;
  late.weights = fl::clone(global);
  late.weights.tensors[0] = torch::full({3}, 1000.0f);
  late.num_examples = 10;
  const Status st = dispatch.fold(task, late);
  // A refusal the client can read as one: its state stays as it was before the task
  // (client.cpp), where DEADLINE_EXCEEDED would have meant "maybe taken" and kept it.
  EXPECT_EQ(st.code, Code::kFailedPrecondition) << st.to_string();
  EXPECT_FALSE(may_have_taken_effect(st));
  // Round 1 (still the aggregating one) holds nothing of it.
  fl::AggregateFitResult out = dispatch.begin_aggregate_fit(1, global)->finish({});
  EXPECT_TRUE(torch::equal(out.weights.tensors[0], global.tensors[0]));
  EXPECT_EQ(out.metrics.at("num_results"), 0);
}

// Each FIT task tells its client the last round whose update from it is in the model (the
// client settles its state by it: sent_updates.h). A folded update counts once its round's
// aggregate becomes the model, not in a round that keeps the old one; a restarted server takes
// the rounds from its checkpoint, and one whose checkpoint has none leaves it unsaid.
TEST(Fold, FitTasksCarryTheLastRoundWhoseUpdateIsInTheModel) {
  Fixture f;
  const std::string s = f.join("alice", "p");
  fl::StrategyOptions options;
  auto fedavg = fl::make_strategy("fedavg", options);
  DispatchingStrategy dispatch(*fedavg, f.coordinator, 60s);
  NetClientManager manager(f.coordinator);
  const fl::Weights global = tiny_model();
  fl::FitResult update;
  update.weights = fl::clone(global);
  update.weights.tensors[0] += 0.5f;
  update.num_examples = 10;
  // Runs round `round`; alice's update is folded if `send`. Returns what its FIT task said.
  auto round_with = [&](int64_t round, bool send) {
    dispatch.configure_fit(round, global, manager);
    std::shared_ptr<Task> task = claim_fit_task(f, dispatch, s, round);
    EXPECT_NE(task, nullptr);
    if (!task) return int64_t{-2};
    if (send) EXPECT_TRUE(dispatch.fold(task, update).ok());
    dispatch.begin_aggregate_fit(round, global)->finish({});
    return task->last_taken_round;
  };
  EXPECT_EQ(round_with(1, true), 0) << "nothing taken yet";
  EXPECT_EQ(round_with(2, false), 1);
  dispatch.set_min_results(2);  // from round 3 on, one update keeps the old model
  EXPECT_EQ(round_with(3, true), 1) << "round 2 had no update of alice";
  EXPECT_EQ(round_with(4, false), 1) << "round 3 kept the old model";
  EXPECT_EQ(dispatch.taken_rounds(), (std::map<fl::ClientId, int64_t>{{0, 1}}));

  DispatchingStrategy restarted(*fedavg, f.coordinator, 60s);
  restarted.restore_taken_rounds(dispatch.taken_rounds());
  restarted.configure_fit(5, global, manager);
  EXPECT_EQ(restarted.task_for(0, TaskKind::kFit)->last_taken_round, 1);
  restarted.restore_taken_rounds(std::nullopt);
  restarted.configure_fit(6, global, manager);
  EXPECT_EQ(restarted.task_for(0, TaskKind::kFit)->last_taken_round, -1) << "unknown: not sent";
}

// FedAvg's sampling and evaluation, with an aggregate that is not finite (as an overflowing
// server optimizer state would make it).
class NonFiniteStrategy : public fl::Strategy {
 public:
  NonFiniteStrategy() : inner_(fl::make_strategy("fedavg", fl::StrategyOptions{})) {}
  std::string name() const override { return "non-finite"; }
  std::vector<fl::FitInstruction> configure_fit(int64_t round, const fl::Weights& global,
                                                const fl::ClientManager& clients) override {
    return inner_->configure_fit(round, global, clients);
  }
  std::unique_ptr<fl::FitAggregation> begin_aggregate_fit(int64_t /*round*/,
                                                          const fl::Weights& global) override {
    return std::make_unique<NaNAggregation>(global);
  }
  std::vector<fl::EvaluateInstruction> configure_evaluate(
      int64_t round, const fl::Weights& global, const fl::ClientManager& clients) override {
    return inner_->configure_evaluate(round, global, clients);
  }
  std::optional<fl::EvaluateSummary> aggregate_evaluate(
      int64_t round, const std::vector<fl::EvaluateResult>& results,
      const std::vector<fl::Failure>& failures) override {
    return inner_->aggregate_evaluate(round, results, failures);
  }
  std::optional<fl::EvaluateSummary> evaluate(int64_t round, const fl::Weights& global) override {
    return inner_->evaluate(round, global);
  }

 private:
  class NaNAggregation : public fl::FitAggregation {
   public:
    explicit NaNAggregation(fl::Weights layout) : layout_(std::move(layout)) {}
    void add(fl::FitResult /*result*/) override { ++added_; }
    fl::AggregateFitResult finish(const std::vector<fl::Failure>& /*failures*/) override {
      fl::AggregateFitResult out;
      out.weights = fl::clone(layout_);
      out.weights.tensors[0].fill_(std::nan(""));
      out.metrics["num_results"] = added_;
      return out;
    }

   private:
    fl::Weights layout_;
    int added_ = 0;
  };
  std::unique_ptr<fl::Strategy> inner_;
};

TEST(Fold, ANonFiniteAggregateKeepsThePreviousGlobalModel) {
  Fixture f;
  const std::string s = f.join("alice", "p");
  NonFiniteStrategy strategy;
  DispatchingStrategy dispatch(strategy, f.coordinator, 60s);
  NetClientManager manager(f.coordinator);
  const fl::Weights global = tiny_model();

  dispatch.configure_fit(1, global, manager);
  std::shared_ptr<Task> task = claim_fit_task(f, dispatch, s, 1);
  ASSERT_NE(task, nullptr);
  fl::FitResult update;
  update.weights = fl::clone(global);
  update.weights.tensors[0] += 0.5f;
  update.num_examples = 10;
  const Status st = dispatch.fold(task, update);
  ASSERT_TRUE(st.ok()) << st.to_string();  // one update folded: the strategy's finish() runs

  fl::AggregateFitResult out = dispatch.begin_aggregate_fit(1, global)->finish({});
  ASSERT_EQ(out.weights.size(), global.size());
  EXPECT_TRUE(torch::isfinite(out.weights.tensors[0]).all().item<bool>());
  EXPECT_TRUE(torch::equal(out.weights.tensors[0], global.tensors[0]));
  ASSERT_TRUE(out.metrics.count("non_finite_aggregate"));
  EXPECT_EQ(out.metrics.at("non_finite_aggregate"), 1);
}

}  // namespace
}  // namespace fedsign::net
