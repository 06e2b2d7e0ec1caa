// Clients' state across a server's resume: SCAFFOLD's c_i (like FedBN's tensors and top-k's
// residual) moves with every update the server takes. A server that crashes and resumes from an
// earlier checkpoint has lost the updates of the rounds after it, and redoes them; its clients
// must redo them from the state they had then, or SCAFFOLD's server c and the clients' c_i no
// longer agree and the redone rounds differ from the first time.
#include <csignal>
#include <filesystem>

#include "fedsign/fl/run/server_checkpoint.h"
#include "tests/faults/faults.h"

namespace fedsign::testing {
namespace {

namespace fs = std::filesystem;

// The columns that a round's arithmetic decides (not its timings or bytes).
std::map<std::string, std::string> outcome(const std::map<std::string, std::string>& row) {
  std::map<std::string, std::string> kept;
  for (const auto& [key, value] : row) {
    if (key == "round" || key.find("accuracy") != std::string::npos ||
        key.find("loss") != std::string::npos || key == "clients_trained")
      kept[key] = value;
  }
  return kept;
}

// SCAFFOLD over the network, both clients every round: the server is SIGKILLed after some rounds
// and its latest checkpoint torn, so it resumes from the previous generation and redoes the
// rounds after it. The clients, still running, go back to the state they had before those rounds:
// every redone round reads as it did the first time.
TEST_F(FaultSuite, RedoneRoundsAfterAResumeStartFromTheClientsEarlierState) {
  for (const char* n : {"a", "b"}) allow(n);
  const fs::path ckpt = tmp_ / "run" / "server.ckpt";
  const auto args = with(server_args(5, 2), {"--strategy", "scaffold", "--clients-per-round", "2"});
  auto server = start(args, "server1.log");
  auto a = start(client_args("a", 0, 2), "a.log");
  auto b = start(client_args("b", 1, 2), "b.log");
  ASSERT_TRUE(wait_until([&] { return metrics().size() >= 3; }, 240s)) << server->log();
  server->kill(SIGKILL);
  ASSERT_TRUE(server->wait_for(10s).has_value());
  const auto before = metrics();
  ASSERT_LT(before.size(), 5u) << "the run ended before the kill";
  const int64_t resumed_after = fl::load_server_checkpoint(fl::previous_checkpoint(ckpt)).round;
  fs::resize_file(ckpt, fs::file_size(ckpt) / 2);  // so that the resume loses rounds

  auto resumed = start(with(args, {"--resume"}), "server2.log");
  ASSERT_EQ(resumed->wait_for(240s), 0) << resumed->log();
  ASSERT_TRUE(contains(resumed->log(), "after round " + std::to_string(resumed_after)))
      << resumed->log();
  const auto after = metrics();
  ASSERT_EQ(after.size(), 5u);
  ASSERT_LT(static_cast<std::size_t>(resumed_after), before.size()) << "no round was redone";
  for (std::size_t r = static_cast<std::size_t>(resumed_after); r < before.size(); ++r)
    EXPECT_EQ(outcome(after[r]), outcome(before[r])) << "redone round " << r + 1;
  EXPECT_EQ(a->wait_for(60s), 0) << a->log();
  EXPECT_EQ(b->wait_for(60s), 0) << b->log();
  for (const auto* client : {a.get(), b.get()})
    EXPECT_TRUE(contains(client->log(), "the client state goes back to before that update"))
        << client->log();
}

}  // namespace
}  // namespace fedsign::testing
