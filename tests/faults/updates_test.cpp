// Fault injection, part 1: clients that break or poison their updates. Each case runs a real
// server and real clients on loopback and asserts that the round ends within the deadline that
// applies plus kMargin, that no bad update reaches the aggregate, and that completed rounds are
// all there.
#include <torch/torch.h>

#include <initializer_list>
#include <sstream>

#include "fedsign/models/registry.h"
#include "fedsign/models/weights.h"
#include "tests/faults/faults.h"

namespace fedsign::testing {
namespace {

// The final global model's largest absolute parameter (the server's default compact model).
double largest_weight(const std::filesystem::path& model_file) {
  auto model = models::create_model("compact", {});
  models::load_weights(*model, model_file);
  double largest = 0;
  for (const auto& p : model->parameters()) {
    EXPECT_TRUE(torch::isfinite(p).all().item<bool>());
    largest = std::max(largest, p.abs().max().item<double>());
  }
  return largest;
}

// A line of `log` that contains each of `parts`.
bool has_line(const std::string& log, std::initializer_list<std::string> parts) {
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    bool all = true;
    for (const std::string& part : parts) all = all && contains(line, part);
    if (all) return true;
  }
  return false;
}

// An upload that sends half its bytes and stalls is cancelled at the upload deadline (not the
// round deadline); a client SIGKILLed mid-upload costs its own update only.
TEST_F(FaultSuite, StalledAndKilledUploadsDoNotHoldTheRound) {
  for (const char* n : {"a", "b", "stall", "killed"}) allow(n);
  auto server = start(server_args(1, 4), "server.log");
  auto a = start(client_args("a", 0, 4), "a.log");
  auto b = start(client_args("b", 1, 4), "b.log");
  auto stall = start(client_args("stall", 2, 4, "half"), "stall.log");
  auto killed = start(client_args("killed", 3, 4, "half"), "killed.log");
  ASSERT_TRUE(wait_until([&] { return contains(killed->log(), "now stalling"); }, 120s))
      << killed->log() << server->log();
  killed->kill(SIGKILL);
  // The watchdog cancels the stalled stream at its upload deadline (upload start +
  // kUploadTimeout, not round deadline + grace), which ends the service's read: it rejects the
  // update with this line. The round loop fails the task at that moment whether or not the
  // stream was cancelled; only the cancellation frees the stream's thread and upload slot.
  // (The stalled process would also hold the evaluation phase until its deadline - it still
  // heartbeats but never takes the task - so it is killed once its upload was cut off.)
  ASSERT_TRUE(wait_until([&] { return contains(stall->log(), "now stalling"); }, 120s))
      << stall->log();
  ASSERT_TRUE(wait_until([&] {
    return has_line(server->log(), {"rejected update from 'stall' (round 1): FAILED_PRECONDITION: "
                                    "upload deadline passed after",
                                    "stream cancelled"});
  }, std::chrono::seconds(static_cast<int>(kUploadTimeout + kMargin)))) << server->log();
  stall->kill(SIGKILL);
  ASSERT_EQ(server->wait_for(std::chrono::seconds(static_cast<int>(kRoundDeadline + 60))), 0)
      << server->log();
  const auto rows = metrics();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(number(rows[0], "clients_trained"), 2);
  EXPECT_EQ(number(rows[0], "failures"), 2);
  // The fit phase waited for the stalled upload at most kUploadTimeout, far below the round
  // deadline; the whole round stays within the deadline.
  const auto net = network();
  const double fit_seconds = number(net[0], "seconds") - number(net[0], "eval_seconds");
  EXPECT_LT(fit_seconds, kUploadTimeout + kMargin) << server->log();
  EXPECT_LT(number(net[0], "seconds"), kRoundDeadline + kMargin) << server->log();
  const std::string log = server->log();
  EXPECT_EQ(a->wait_for(30s), 0);
  EXPECT_EQ(b->wait_for(30s), 0);
}

// A client SIGKILLed in the middle of downloading its training task's model costs only its own
// update: its stream breaks, it stops calling, the round ends at the client timeout with the
// other clients' updates.
TEST_F(FaultSuite, ClientKilledMidDownloadCostsOnlyItsOwnUpdate) {
  for (const char* n : {"a", "b", "dies"}) allow(n);
  auto server = start(server_args(1, 3), "server.log");
  auto a = start(client_args("a", 0, 3), "a.log");
  auto b = start(client_args("b", 1, 3), "b.log");
  auto dies = start(client_args("dies", 2, 3, "die-download"), "dies.log");
  ASSERT_EQ(server->wait_for(std::chrono::seconds(static_cast<int>(kRoundDeadline + 60))), 0)
      << server->log();
  EXPECT_TRUE(contains(dies->log(), "TEST FAULT die-download")) << dies->log();
  EXPECT_FALSE(dies->running());
  const auto rows = metrics();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(number(rows[0], "clients_trained"), 2) << server->log();
  EXPECT_EQ(number(rows[0], "failures"), 1);
  EXPECT_LT(number(network()[0], "seconds"), kRoundDeadline + kMargin);
  EXPECT_EQ(a->wait_for(30s), 0);
  EXPECT_EQ(b->wait_for(30s), 0);
}

// Inflated example counts, huge-but-finite weights and a replayed update of an earlier round
// are rejected; honest clients' rounds complete and the model stays sane.
TEST_F(FaultSuite, PoisonedUpdatesNeverReachTheAggregate) {
  for (const char* n : {"a", "b", "inflate", "huge", "replay"}) allow(n);
  auto server = start(server_args(2, 5), "server.log");
  std::vector<std::unique_ptr<Process>> clients;
  clients.push_back(start(client_args("a", 0, 5), "a.log"));
  clients.push_back(start(client_args("b", 1, 5), "b.log"));
  int i = 2;
  for (const char* fault : {"inflate", "huge", "replay"}) {
    clients.push_back(start(client_args(fault, i++, 5, fault), std::string(fault) + ".log"));
  }
  ASSERT_EQ(server->wait_for(240s), 0) << server->log();
  const auto rows = metrics();
  ASSERT_EQ(rows.size(), 2u);
  // Round 1: the replaying client is still honest. Round 2: it first replays round 1's update
  // (rejected), then sends its real one (accepted).
  for (const auto& row : rows) {
    EXPECT_EQ(number(row, "clients_trained"), 3) << server->log();
    EXPECT_EQ(number(row, "failures"), 2);
    EXPECT_TRUE(std::isfinite(number(row, "train_loss")));
  }
  const auto net = network();
  EXPECT_EQ(number(net[0], "rejected"), 2);
  EXPECT_EQ(number(net[1], "rejected"), 3);
  for (const auto& row : net) EXPECT_LT(number(row, "seconds"), kRoundDeadline + kMargin);
  const std::string log = server->log();
  EXPECT_TRUE(contains(log, "num_examples")) << log;
  EXPECT_TRUE(contains(log, "update norm")) << log;
  EXPECT_TRUE(contains(log, "not open (stale, replayed")) << log;
  EXPECT_TRUE(contains(clients[4]->log(), "TEST FAULT replay")) << clients[4]->log();
  // 1e30 weights in the average would leave ~1e29 parameters.
  EXPECT_LT(largest_weight(tmp_ / "run" / "model.pt"), 100.0);
}

// Every client drops mid-round: the round ends when they stop calling (client timeout), keeps
// the global model, and the server finishes cleanly.
TEST_F(FaultSuite, EveryClientDropping) {
  for (const char* n : {"a", "b"}) allow(n);
  auto server = start(server_args(1, 2), "server.log");
  auto a = start(client_args("a", 0, 2, "slow"), "a.log");
  auto b = start(client_args("b", 1, 2, "slow"), "b.log");
  ASSERT_TRUE(wait_until([&] {
    return contains(a->log(), "not submitting") && contains(b->log(), "not submitting");
  }, 120s)) << a->log() << b->log();
  const auto killed_at = std::chrono::steady_clock::now();
  a->kill(SIGKILL);
  b->kill(SIGKILL);
  ASSERT_EQ(server->wait_for(std::chrono::seconds(static_cast<int>(kRoundDeadline + 60))), 0)
      << server->log();
  const double after_kill =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  EXPECT_LT(after_kill, kClientTimeout + kMargin);
  const auto rows = metrics();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(number(rows[0], "clients_trained"), 0);
  EXPECT_EQ(number(rows[0], "failures"), 2);
  EXPECT_TRUE(contains(server->log(), "keeping the global model")) << server->log();
}

}  // namespace
}  // namespace fedsign::testing
