// Networked federated learning with real processes on 127.0.0.1: `fedsign fl server` and
// several `fedsign fl client` processes on a tiny generated GTSRB-like folder (each client takes
// its own seeded share with --partition-index/--clients). Every process is killed at the
// end of its test (Process's destructor); every wait is bounded.
#include <gtest/gtest.h>
#include <httplib.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <regex>
#include <nlohmann/json.hpp>

#include "fedsign/fl/client/client_state.h"
#include "fedsign/fl/update.h"
#include "fedsign/fl/weights.h"
#include "fedsign/models/registry.h"
#include "fedsign/models/weights.h"
#include "tests/net/process.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign {
namespace {

using namespace std::chrono_literals;
using testing::Process;
using testing::wait_until;

class Loopback : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::write_kaggle_dataset(tmp_ / "data",
        {.num_classes = 5, .tracks_per_class = 8, .frames_per_track = 5});
    port_ = testing::free_port();
    address_ = "127.0.0.1:" + std::to_string(port_);
    testing::write_text(tmp_ / "tokens.txt", "");
  }

  void add_token(const std::string& name, const std::string& token, bool revoked = false) {
    std::ofstream out(tmp_ / "tokens.txt", std::ios::app);
    out << name << " " << token << (revoked ? " revoked" : "") << "\n";
  }

  std::vector<std::string> server_args(int rounds, int min_clients) const {
    return {"fl", "server", "--address", address_, "--rounds", std::to_string(rounds),
            "--min-available-clients", std::to_string(min_clients), "--tokens",
            (tmp_ / "tokens.txt").string(), "--out", (tmp_ / "run").string(),
            "--local-epochs", "3", "--lr", "0.003", "--heartbeat-ms", "500",
            "--client-timeout", "4", "--round-deadline", "240", "--start-timeout", "120",
            "--shutdown-grace", "10", "--log-level", "info"};
  }

  std::vector<std::string> client_args(const std::string& name, int index, int count) const {
    return {"fl", "client", "--server", address_, "--name", name, "--token", "tok-" + name,
            "--data", (tmp_ / "data").string(), "--cache-dir", (tmp_ / "cache").string(),
            "--partition-index", std::to_string(index), "--clients",
            std::to_string(count), "--threads", "1", "--batch-size", "16",
            "--client-test-fraction", "0.25", "--backoff-initial", "0.2", "--backoff-max", "1",
            "--give-up-after", "90", "--poll-ms", "1000", "--log-level", "info"};
  }

  std::unique_ptr<Process> start(const std::vector<std::string>& args, const std::string& log) {
    return std::make_unique<Process>(args, tmp_ / log);
  }

  // A 2-round federation of clients "a" and "b" run to its end (server options `server_more`,
  // client options `client_more(name)`): both clients train in both rounds.
  void run_two_rounds_of_two(
      const std::vector<std::string>& server_more,
      const std::function<std::vector<std::string>(const std::string&)>& client_more);

  std::vector<std::map<std::string, std::string>> metrics() const {
    return testing::read_csv(tmp_ / "run" / "metrics.csv");
  }
  std::vector<std::map<std::string, std::string>> network() const {
    return testing::read_csv(tmp_ / "run" / "network.csv");
  }

  testing::TempDir tmp_;
  int port_ = 0;
  std::string address_;
};

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

// The state a client saved in `file` for this run under whichever id the server gave it (ids
// follow the order in which clients first registered).
std::optional<fl::ClientState> saved_state(const std::filesystem::path& file,
                                           const std::string& run_id, int clients) {
  for (fl::ClientId id = 0; id < clients; ++id) {
    if (auto state = fl::load_client_state_file(file, {run_id, id})) return state;
  }
  return std::nullopt;
}

void Loopback::run_two_rounds_of_two(
    const std::vector<std::string>& server_more,
    const std::function<std::vector<std::string>(const std::string&)>& client_more) {
  for (const char* n : {"a", "b"}) add_token(n, std::string("tok-") + n);
  auto server = start(with(server_args(2, 2), server_more), "server.log");
  std::vector<std::unique_ptr<Process>> clients;
  int i = 0;
  for (const std::string n : {"a", "b"}) {
    clients.push_back(start(with(client_args(n, i++, 2), client_more(n)), n + ".log"));
  }
  ASSERT_EQ(server->wait_for(400s), 0) << server->log();
  for (auto& c : clients) EXPECT_EQ(c->wait_for(30s), 0) << c->log();
  const auto rows = metrics();
  ASSERT_EQ(rows.size(), 2u) << server->log();
  for (const auto& row : rows) EXPECT_EQ(testing::number(row, "clients_trained"), 2);
}

// The federation run id the server stored (net/run_identity.h).
std::string run_id_of(const std::filesystem::path& run_dir) {
  std::ifstream id_file(run_dir / "run_id");
  std::string run_id;
  std::getline(id_file, run_id);
  return run_id;
}

TEST_F(Loopback, ThreeClientsTrainBetterThanChance) {
  for (const char* n : {"a", "b", "c"}) add_token(n, std::string("tok-") + n);
  const int status_port = testing::free_port();
  // Central evaluation on the data's held-out split (the clients train on the rest), and
  // evaluation only after the last round: the same options as `fl simulate`.
  auto server = start(with(server_args(3, 3), {"--status-address",
                                               "127.0.0.1:" + std::to_string(status_port),
                                               "--eval-every", "0", "--data",
                                               (tmp_ / "data").string(), "--cache-dir",
                                               (tmp_ / "cache").string(), "--threads", "1"}),
                      "server.log");
  std::vector<std::unique_ptr<Process>> clients;
  int i = 0;
  for (const char* n : {"a", "b", "c"}) clients.push_back(start(client_args(n, i++, 3), std::string(n) + ".log"));

  // The status endpoint answers while the run goes on.
  httplib::Client http("127.0.0.1", status_port);
  nlohmann::json status;
  ASSERT_TRUE(wait_until(
      [&] {
        auto res = http.Get("/status");
        if (!res || res->status != 200) return false;
        status = nlohmann::json::parse(res->body);
        return status["connected_clients"].get<int>() == 3;
      },
      120s))
      << server->log();
  EXPECT_EQ(status["rounds"], 3);
  EXPECT_EQ(status["clients"].size(), 3u);

  ASSERT_EQ(server->wait_for(400s), 0) << server->log();
  for (auto& c : clients) EXPECT_EQ(c->wait_for(30s), 0) << c->log();
  const auto rows = metrics();
  ASSERT_EQ(rows.size(), 3u) << server->log();
  for (const auto& row : rows) EXPECT_EQ(testing::number(row, "clients_trained"), 3);
  for (const char* column : {"central_accuracy", "federated_accuracy"}) {
    EXPECT_EQ(rows[0].at(column), "") << column << ": --eval-every 0 evaluates the last round only";
    EXPECT_EQ(rows[1].at(column), "") << column;
  }
  // 5 classes: chance is 20%.
  EXPECT_GT(testing::number(rows.back(), "federated_accuracy"), 0.3) << server->log();
  EXPECT_GT(testing::number(rows.back(), "central_accuracy"), 0.3) << server->log();
  const auto net = network();
  ASSERT_EQ(net.size(), 3u);
  EXPECT_GT(testing::number(net.back(), "bytes_sent"), 0);
  EXPECT_EQ(testing::number(net.back(), "rejected"), 0);
  const std::string log = server->log();
  EXPECT_NE(log.find("round 3/3"), std::string::npos) << log;
  for (const char* f : {"server.ckpt", "model.pt", "model.json", "endpoint.json"}) {
    EXPECT_TRUE(std::filesystem::exists(tmp_ / "run" / f)) << f;
  }
}

// --test-fraction over the network: the server holds the test tracks out of its central
// evaluation, the clients out of their shares (the partition key carries it), and the final
// model is scored on them once, as `fl simulate` does.
TEST_F(Loopback, FinalModelIsScoredOnTheUntouchedTestSplit) {
  for (const char* n : {"a", "b"}) add_token(n, std::string("tok-") + n);
  const std::vector<std::string> split = {"--val-fraction", "0.25", "--test-fraction", "0.25"};
  auto server = start(with(with(server_args(1, 2), {"--data", (tmp_ / "data").string(),
                                                    "--cache-dir", (tmp_ / "cache").string(),
                                                    "--threads", "1"}),
                           split),
                      "server.log");
  auto a = start(with(client_args("a", 0, 2), split), "a.log");
  auto b = start(with(client_args("b", 1, 2), split), "b.log");
  ASSERT_EQ(server->wait_for(300s), 0) << server->log();
  EXPECT_EQ(a->wait_for(30s), 0) << a->log();
  EXPECT_EQ(b->wait_for(30s), 0) << b->log();
  // 5 classes x 8 tracks x 5 frames: 2 tracks per class are the test split (50 images).
  EXPECT_NE(server->log().find("test split (untouched, 50 images, read once)"), std::string::npos)
      << server->log();
  const auto test = nlohmann::json::parse(testing::read_text(tmp_ / "run" / "test.json"));
  EXPECT_EQ(test["images"], 50);
  // Each client's share is of the 100 training images (200 - 50 validation - 50 test).
  for (auto* client : {a.get(), b.get()}) {
    EXPECT_NE(client->log().find("share "), std::string::npos) << client->log();
  }
  const std::string log_a = a->log(), log_b = b->log();
  std::smatch ma, mb;
  const std::regex count("(\\d+) local training \\(0 of them renders\\) / (\\d+) local test");
  ASSERT_TRUE(std::regex_search(log_a, ma, count)) << log_a;
  ASSERT_TRUE(std::regex_search(log_b, mb, count)) << log_b;
  EXPECT_EQ(std::stoi(ma[1]) + std::stoi(ma[2]) + std::stoi(mb[1]) + std::stoi(mb[2]), 100);
}

TEST_F(Loopback, KilledClientDoesNotStopTheRound) {
  for (const char* n : {"a", "b", "c"}) add_token(n, std::string("tok-") + n);
  auto server = start(server_args(1, 3), "server.log");
  auto a = start(client_args("a", 0, 3), "a.log");
  auto b = start(client_args("b", 1, 3), "b.log");
  // c trains, then hangs instead of submitting (test fault) - and is killed mid-round.
  auto c = start(with(client_args("c", 2, 3), {"--fault", "slow"}), "c.log");
  ASSERT_TRUE(wait_until([&] { return c->log().find("not submitting") != std::string::npos; }, 240s))
      << c->log();
  c->kill(SIGKILL);
  ASSERT_EQ(server->wait_for(240s), 0) << server->log();
  const auto rows = metrics();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(testing::number(rows[0], "clients_trained"), 2);
  EXPECT_EQ(testing::number(rows[0], "failures"), 1);
  EXPECT_NE(server->log().find("client disconnected"), std::string::npos) << server->log();
  EXPECT_EQ(a->wait_for(30s), 0);
  EXPECT_EQ(b->wait_for(30s), 0);
}

TEST_F(Loopback, ServerKilledWithSigkillResumesFromItsLastRound) {
  for (const char* n : {"a", "b"}) add_token(n, std::string("tok-") + n);
  auto server = start(server_args(3, 2), "server1.log");
  auto a = start(client_args("a", 0, 2), "a.log");
  auto b = start(client_args("b", 1, 2), "b.log");
  ASSERT_TRUE(wait_until([&] { return metrics().size() >= 1; }, 300s)) << server->log();
  server->kill(SIGKILL);
  ASSERT_TRUE(server->wait_for(10s).has_value());
  const auto before = metrics();
  ASSERT_GE(before.size(), 1u);
  ASSERT_LT(before.size(), 3u) << "the run ended before the kill";

  auto resumed = start(with(server_args(3, 2), {"--resume"}), "server2.log");
  ASSERT_EQ(resumed->wait_for(400s), 0) << resumed->log();
  EXPECT_NE(resumed->log().find("after round " + std::to_string(before.size())),
            std::string::npos)
      << resumed->log();
  const auto after = metrics();
  ASSERT_EQ(after.size(), 3u);
  for (std::size_t r = 0; r < after.size(); ++r) EXPECT_EQ(testing::number(after[r], "round"), r + 1.0);
  // Completed rounds are kept exactly.
  for (std::size_t r = 0; r < before.size(); ++r) EXPECT_EQ(after[r], before[r]);
  EXPECT_EQ(a->wait_for(60s), 0) << a->log();
  EXPECT_EQ(b->wait_for(60s), 0) << b->log();
}

// A SCAFFOLD client killed after round 1 and started again takes up its control variate from
// --state-file: the file was saved for this server's run (run/run_id) and this client.
TEST_F(Loopback, RestartedScaffoldClientTakesUpItsStateFile) {
  add_token("a", "tok-a");
  auto server = start(with(server_args(3, 1), {"--strategy", "scaffold"}), "server.log");
  const auto state = tmp_ / "a.state";
  const auto client = with(client_args("a", 0, 1), {"--state-file", state.string()});
  auto first = start(client, "a1.log");
  ASSERT_TRUE(wait_until([&] { return metrics().size() >= 1; }, 300s)) << server->log();
  first->kill(SIGKILL);
  ASSERT_TRUE(first->wait_for(10s).has_value());
  ASSERT_TRUE(std::filesystem::exists(state)) << first->log();
  EXPECT_EQ(first->log().find("client state restored"), std::string::npos) << "nothing to restore yet";
  auto again = start(client, "a2.log");
  ASSERT_EQ(server->wait_for(400s), 0) << server->log();
  EXPECT_NE(again->log().find("client state restored from"), std::string::npos) << again->log();
  const std::string run_id = run_id_of(tmp_ / "run");
  const auto saved = fl::load_client_state_file(state, {run_id, 0});
  ASSERT_TRUE(saved.has_value()) << "the state file is for run " << run_id << ", client 0";
  EXPECT_TRUE(saved->control.has_value());
  EXPECT_EQ(again->wait_for(60s), 0) << again->log();
}

TEST_F(Loopback, BadUpdatesAreRejectedWhileTrainingGoesOn) {
  for (const char* n : {"good1", "good2", "nan", "shape", "stale"}) add_token(n, std::string("tok-") + n);
  auto server = start(server_args(1, 5), "server.log");
  std::vector<std::unique_ptr<Process>> clients;
  clients.push_back(start(client_args("good1", 0, 5), "good1.log"));
  clients.push_back(start(client_args("good2", 1, 5), "good2.log"));
  int i = 2;
  for (const char* fault : {"nan", "shape", "stale"}) {
    clients.push_back(start(with(client_args(fault, i++, 5), {"--fault", fault}),
                            std::string(fault) + ".log"));
  }
  ASSERT_EQ(server->wait_for(400s), 0) << server->log();
  const auto rows = metrics();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(testing::number(rows[0], "clients_trained"), 2);
  EXPECT_EQ(testing::number(rows[0], "failures"), 3);
  EXPECT_EQ(testing::number(network()[0], "rejected"), 3);
  const std::string log = server->log();
  EXPECT_NE(log.find("non-finite"), std::string::npos) << log;
  EXPECT_NE(log.find("shape"), std::string::npos) << log;
  EXPECT_NE(log.find("stale round"), std::string::npos) << log;
  EXPECT_TRUE(std::isfinite(testing::number(rows[0], "train_loss")));
}

TEST_F(Loopback, LargeModelRoundTripsThroughTheChunkedStream) {
  add_token("a", "tok-a");
  auto server = start(with(server_args(1, 1), {"--model", "resnet18", "--local-steps", "1"}),
                      "server.log");
  auto args = client_args("a", 0, 1);
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--batch-size") args[i + 1] = "8";
  }
  auto a = start(args, "a.log");
  ASSERT_EQ(server->wait_for(400s), 0) << server->log() << a->log();
  const auto rows = metrics();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(testing::number(rows[0], "clients_trained"), 1);
  const auto net = network();
  EXPECT_GT(testing::number(net[0], "bytes_received"), 40e6);  // resnet18: ~45 MB of weights
  EXPECT_EQ(testing::number(net[0], "rejected"), 0);
}

// Secure aggregation over the network (docs/privacy.md): DP-FedAvg in distributed mode with
// no noise (clipping only), so the sum the server recovers can be compared with plain averaging.
// --compress int8 --download bf16: the server asks for quantized updates and sends the model in
// bfloat16; a round's uploads shrink about four times, its downloads two, while training goes
// on.
TEST_F(Loopback, Int8UploadsAndBf16DownloadsShrinkTheRoundsBytes) {
  ASSERT_NO_FATAL_FAILURE(run_two_rounds_of_two(
      {"--compress", "int8", "--download", "bf16", "--eval-every", "0"},
      [](const std::string&) { return std::vector<std::string>{}; }));
  // Two float32 models would be 2 x 4 bytes per parameter; int8 sends a quarter (+ scales).
  const double model_bytes =
      static_cast<double>(fl::get_weights(*models::create_model("compact")).bytes());
  const auto net = network();
  ASSERT_EQ(net.size(), 2u);
  for (std::size_t r = 0; r < net.size(); ++r) {
    EXPECT_EQ(testing::number(net[r], "rejected"), 0);
    const double received = testing::number(net[r], "bytes_received");
    EXPECT_LT(received, 2 * model_bytes / 3.5) << "round " << r + 1;
    EXPECT_GT(received, 2 * model_bytes / 4.5) << "round " << r + 1;
  }
  // Round 1 sends two FIT tasks (round 2 also the final evaluation's): two bf16 models.
  const double sent = testing::number(net[0], "bytes_sent");
  EXPECT_LT(sent, 2 * model_bytes / 1.8);
  EXPECT_GT(sent, 2 * model_bytes / 2.2);
}

// --compress topk: each client sends 1% of every tensor's values with their positions' varint
// gaps (about a fiftieth of the float32 model; a 38th with int32 indices) and keeps what it left
// out, its error-feedback residual, in its state file for this run.
TEST_F(Loopback, TopKUploadsShrinkTheRoundsBytesAndKeepTheirResidual) {
  ASSERT_NO_FATAL_FAILURE(run_two_rounds_of_two(
      {"--compress", "topk", "--topk-fraction", "0.01", "--eval-every", "0"},
      [&](const std::string& name) {
        return std::vector<std::string>{"--state-file", (tmp_ / (name + ".state")).string()};
      }));
  const double model_bytes =
      static_cast<double>(fl::get_weights(*models::create_model("compact")).bytes());
  for (const auto& round : network()) {
    EXPECT_EQ(testing::number(round, "rejected"), 0);
    EXPECT_LT(testing::number(round, "bytes_received"), 2 * model_bytes / 45);  // int32 indices: 62 KB a client
  }
  const std::string run_id = run_id_of(tmp_ / "run");
  for (const std::string name : {"a", "b"}) {
    const auto state = tmp_ / (name + ".state");
    const auto saved = saved_state(state, run_id, 2);
    ASSERT_TRUE(saved.has_value()) << state;
    ASSERT_TRUE(saved->residual.has_value()) << state;
    EXPECT_GT(saved->residual->bytes(), model_bytes / 2) << "the residual holds the sparsified tensors";
  }
}

// A client's state advances only with an update the server takes: a SCAFFOLD client whose update
// is refused (a stale round) keeps the state it had, here none, and writes no state file, while
// the honest client's file holds its new control variate.
TEST_F(Loopback, RefusedUpdateLeavesTheClientsStateAsItWas) {
  for (const char* n : {"good", "stale"}) add_token(n, std::string("tok-") + n);
  auto server = start(with(server_args(1, 2), {"--strategy", "scaffold", "--eval-every", "0"}),
                      "server.log");
  auto good = start(with(client_args("good", 0, 2), {"--state-file", (tmp_ / "good.state").string()}),
                    "good.log");
  auto stale = start(with(client_args("stale", 1, 2), {"--state-file", (tmp_ / "stale.state").string(),
                                                       "--fault", "stale"}),
                     "stale.log");
  ASSERT_EQ(server->wait_for(400s), 0) << server->log();
  EXPECT_EQ(testing::number(network()[0], "rejected"), 1);
  EXPECT_EQ(good->wait_for(30s), 0) << good->log();
  EXPECT_EQ(stale->wait_for(30s), 0) << stale->log();
  EXPECT_NE(stale->log().find("the update was not taken"), std::string::npos) << stale->log();
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "stale.state")) << "a refused update's state was kept";
  const auto saved = saved_state(tmp_ / "good.state", run_id_of(tmp_ / "run"), 2);
  ASSERT_TRUE(saved.has_value()) << good->log();
  EXPECT_TRUE(saved->control.has_value());
}

// `fl client --attack noise`: the simulation's Gaussian update attack from a network client; the
// server's norm bound rejects it every round while the honest client's update is aggregated.
TEST_F(Loopback, AttackingClientsUpdateIsRejectedByTheNormBound) {
  for (const char* n : {"a", "b"}) add_token(n, std::string("tok-") + n);
  auto server = start(with(server_args(2, 2), {"--max-update-norm", "1000", "--eval-every", "0"}),
                      "server.log");
  auto honest = start(client_args("a", 0, 2), "a.log");
  auto attacker = start(with(client_args("b", 1, 2), {"--attack", "noise", "--attack-scale", "10"}),
                        "b.log");
  ASSERT_EQ(server->wait_for(400s), 0) << server->log();
  EXPECT_EQ(honest->wait_for(30s), 0) << honest->log();
  EXPECT_EQ(attacker->wait_for(30s), 0) << attacker->log();
  EXPECT_NE(attacker->log().find("ATTACK 'noise' enabled"), std::string::npos) << attacker->log();
  const auto rows = metrics();
  ASSERT_EQ(rows.size(), 2u) << server->log();
  const auto net = network();
  ASSERT_EQ(net.size(), 2u);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    // Noise of standard deviation 10 over ~0.6M values has a norm near 7,700.
    EXPECT_EQ(testing::number(rows[r], "clients_trained"), 1) << "round " << r + 1;
    EXPECT_EQ(testing::number(net[r], "rejected"), 1) << "round " << r + 1;
  }
}

std::vector<std::string> secure(std::vector<std::string> args, int per_round) {
  return with(std::move(args), {"--dp", "distributed", "--dp-noise-multiplier", "0", "--dp-clip",
                                "10", "--clients-per-round", std::to_string(per_round),
                                "--secagg", "--secagg-step-timeout", "30"});
}

fl::Weights final_model(const std::filesystem::path& run) {
  auto model = models::create_model("compact", {});
  models::load_weights(*model, run / "model.pt");
  return fl::get_weights(*model);
}

// A client that shares its keys and then drops out (before its masked update) does not stop
// the round: the others' shares of its mask key remove its pairwise masks from the sum.
TEST_F(Loopback, SecureAggregationRecoversTheSumWhenAClientDropsAfterSharingKeys) {
  for (const char* n : {"a", "b", "c", "d"}) add_token(n, std::string("tok-") + n);
  auto server = start(secure(server_args(2, 4), 4), "server.log");
  std::vector<std::unique_ptr<Process>> clients;
  int i = 0;
  for (const char* n : {"a", "b", "c"}) clients.push_back(start(client_args(n, i++, 4), std::string(n) + ".log"));
  auto d = start(with(client_args("d", 3, 4), {"--fault", "secagg-drop"}), "d.log");
  ASSERT_EQ(server->wait_for(300s), 0) << server->log();
  const auto rows = metrics();
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    EXPECT_EQ(testing::number(row, "clients_trained"), 3);
    EXPECT_EQ(testing::number(row, "failures"), 1);
    EXPECT_TRUE(std::isfinite(testing::number(row, "train_loss")));
  }
  const std::string log = server->log();
  // 4 sampled, threshold floor(0.5 x 4) + 1 = 3.
  EXPECT_NE(log.find("round 2: the sum of 3 masked updates recovered (threshold 3)"),
            std::string::npos) << log;
  EXPECT_NE(d->log().find("dropping out after sharing keys"), std::string::npos) << d->log();
  for (auto& c : clients) {
    EXPECT_EQ(c->wait_for(30s), 0) << c->log();
    EXPECT_NE(c->log().find("unmasking answered (3 survivors)"), std::string::npos) << c->log();
  }
  // The unmasked global model is a model, not masks: finite and of the size updates have.
  const fl::Weights w = final_model(tmp_ / "run");
  for (const auto& t : w.tensors) EXPECT_TRUE(torch::isfinite(t).all().item<bool>());
  EXPECT_LT(fl::l2_norm(w), 1e3);
}

// The same federation with and without secure aggregation ends with the same global model, up
// to the fixed-point step: the server's sum is the plain sum. Clients register one after
// another so that they get the same ids (and training seeds) in both runs.
TEST_F(Loopback, SecureAggregationGivesThePlainAverage) {
  for (const char* n : {"a", "b", "c"}) add_token(n, std::string("tok-") + n);
  std::map<std::string, fl::Weights> models;
  for (const std::string mode : {"plain", "secure"}) {
    auto args = secure(server_args(1, 3), 3);
    if (mode == "plain") args.erase(std::find(args.begin(), args.end(), "--secagg"));
    for (auto& a : args) {
      if (a == (tmp_ / "run").string()) a = (tmp_ / mode).string();
    }
    auto server = start(args, mode + ".log");
    std::vector<std::unique_ptr<Process>> clients;
    int i = 0;
    for (const char* n : {"a", "b", "c"}) {
      clients.push_back(start(client_args(n, i++, 3), mode + "-" + n + ".log"));
      ASSERT_TRUE(wait_until([&] {
        return server->log().find(std::string("client '") + n + "' registered") != std::string::npos;
      }, 60s)) << server->log();
    }
    ASSERT_EQ(server->wait_for(300s), 0) << server->log();
    for (auto& c : clients) EXPECT_EQ(c->wait_for(30s), 0) << c->log();
    EXPECT_EQ(server->log().find("masked updates recovered") != std::string::npos, mode == "secure")
        << server->log();
    const auto rows = testing::read_csv(tmp_ / mode / "metrics.csv");
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(testing::number(rows[0], "clients_trained"), 3);
    models[mode] = final_model(tmp_ / mode);
  }
  // Bound 10, 3 summands: a fixed-point step of 2^-26; float32 rounding dominates. The round
  // moved the model (the runs did not both keep the initial one).
  EXPECT_LT(fl::max_abs_diff(models["plain"], models["secure"]), 1e-5);
  torch::manual_seed(42);  // the server's initial model (--seed 42)
  auto initial = models::create_model("compact", {});
  EXPECT_GT(fl::max_abs_diff(models["secure"], fl::get_weights(*initial)), 1e-3);
}

TEST_F(Loopback, SecureAggregationWithoutClientClippingOrWithOneClientIsRefused) {
  add_token("a", "tok-a");
  auto server = start(with(server_args(1, 1), {"--secagg"}), "server.log");
  const auto code = server->wait_for(60s);
  ASSERT_TRUE(code.has_value());
  EXPECT_NE(*code, 0);
  EXPECT_NE(server->log().find("secure aggregation needs --dp distributed"), std::string::npos)
      << server->log();
  // A sum of one update is that update.
  auto alone = start(secure(server_args(1, 1), 1), "alone.log");
  const auto alone_code = alone->wait_for(60s);
  ASSERT_TRUE(alone_code.has_value());
  EXPECT_NE(*alone_code, 0);
  EXPECT_NE(alone->log().find("--clients-per-round of at least 2"), std::string::npos)
      << alone->log();
}

}  // namespace
}  // namespace fedsign
