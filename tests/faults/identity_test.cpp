// Fault injection, part 2: who may act, how much they may hold, and what survives a crash.
// A stolen session id, a valid token with another client's certificate, a flood of
// unauthenticated streams, and a server SIGKILLed with a corrupt latest checkpoint.
#include <filesystem>
#include <iostream>
#include <regex>

#include "fedsign/fl/run/server_checkpoint.h"
#include "tests/faults/faults.h"
#include "tests/net/certs.h"

namespace fedsign::testing {
namespace {

namespace fs = std::filesystem;

// Plaintext on a reachable address is refused (naming TLS) unless --insecure; on loopback the
// client warns that it talks plaintext.
TEST_F(FaultSuite, PlaintextOnAReachableAddressIsRefused) {
  auto args = server_args(1, 1);
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--address") args[i + 1] = "0.0.0.0:" + std::to_string(free_port());
  }
  auto server = start(args, "server.log");
  const auto code = server->wait_for(30s);
  ASSERT_TRUE(code.has_value()) << "the server started listening";
  EXPECT_NE(*code, 0);
  EXPECT_TRUE(contains(server->log(), "without TLS")) << server->log();
  EXPECT_TRUE(contains(server->log(), "--insecure")) << server->log();
}

// The thief presents its own (valid) session id from a second connection: refused as unknown,
// while the session keeps working on the connection that registered it.
TEST_F(FaultSuite, StolenSessionIdFromAnotherConnectionIsRefused) {
  for (const char* n : {"a", "thief"}) allow(n);
  auto server = start(server_args(1, 2), "server.log");
  auto a = start(client_args("a", 0, 2), "a.log");
  auto thief = start(client_args("thief", 1, 2, "steal"), "thief.log");
  ASSERT_EQ(server->wait_for(std::chrono::seconds(static_cast<int>(kRoundDeadline + 60))), 0)
      << server->log();
  const std::string log = thief->log();
  EXPECT_TRUE(contains(log, "heartbeat with the session from another connection -> NOT_FOUND")) << log;
  EXPECT_TRUE(contains(log, "get_task with the session from another connection -> NOT_FOUND")) << log;
  EXPECT_TRUE(contains(server->log(), "presented by")) << server->log();
  EXPECT_TRUE(contains(a->log(), "TLS is off")) << a->log();
  const auto rows = metrics();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(number(rows[0], "clients_trained"), 2);
  EXPECT_LT(number(network()[0], "seconds"), kRoundDeadline + kMargin);
}

// Mutual TLS: alice's valid token with bob's certificate is refused; bob's own works.
TEST_F(FaultSuite, ValidTokenWithAnotherNamesCertificateIsRefused) {
  const fs::path certs = tmp_ / "certs";
  fs::create_directories(certs);
  make_ca(certs, "ca");
  make_cert(certs, "ca", "server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth");
  for (const char* n : {"alice", "bob"}) make_cert(certs, "ca", n, "extendedKeyUsage=clientAuth");
  for (const char* n : {"alice", "bob"}) allow(n);
  auto pem = [&](const std::string& n, const char* ext) { return (certs / (n + ext)).string(); };
  auto server = start(with(server_args(1, 1), {"--tls-cert", pem("server", ".pem"), "--tls-key",
                                               pem("server", ".key"), "--tls-client-ca",
                                               pem("ca", ".pem")}),
                      "server.log");
  auto tls_client = [&](const std::string& name, const std::string& cert) {
    auto args = with(client_args(name, 0, 1),
                     {"--tls-ca", pem("ca", ".pem"), "--tls-server-name", "localhost",
                      "--tls-cert", pem(cert, ".pem"), "--tls-key", pem(cert, ".key")});
    return start(args, name + "-as-" + cert + ".log");
  };
  auto impostor = tls_client("alice", "bob");
  ASSERT_TRUE(impostor->wait_for(60s).has_value());
  EXPECT_NE(*impostor->wait_for(1s), 0);
  EXPECT_TRUE(contains(impostor->log(), "certificate is for 'bob', not for 'alice'")) << impostor->log();
  EXPECT_FALSE(contains(server->log(), "registered as")) << server->log();
  auto bob = tls_client("bob", "bob");
  ASSERT_EQ(server->wait_for(std::chrono::seconds(static_cast<int>(kRoundDeadline + 60))), 0)
      << server->log();
  EXPECT_EQ(number(metrics().at(0), "clients_trained"), 1);
}

// 200 connections each open a result stream and send nothing. The server bounds what they hold
// (pending-header cap, header timeout, thread quota): memory stays flat and honest clients'
// round completes within its deadline.
TEST_F(FaultSuite, FloodOfUnauthenticatedStreamsIsBounded) {
  for (const char* n : {"a", "b"}) allow(n);
  auto server = start(server_args(1, 2), "server.log");
  ASSERT_TRUE(wait_until([&] { return fs::exists(tmp_ / "run" / "endpoint.json"); }, 60s));
  std::this_thread::sleep_for(500ms);
  const double rss_before = memory_mb(server->pid(), "VmRSS");
  auto flood = start(client_args("nobody", 0, 1, "flood"), "flood.log");
  ASSERT_TRUE(wait_until([&] { return contains(flood->log(), "result streams open"); }, 60s))
      << flood->log();
  double rss_during = 0;
  for (int i = 0; i < 10; ++i) {  // while the streams are held (header timeout kHeaderTimeout)
    rss_during = std::max(rss_during, memory_mb(server->pid(), "VmRSS"));
    std::this_thread::sleep_for(200ms);
  }
  auto a = start(client_args("a", 0, 2), "a.log");
  auto b = start(client_args("b", 1, 2), "b.log");
  // The server ends every anonymous stream by itself: those beyond the pending-header cap at
  // once, the others at the header timeout (the flood client never writes or closes them).
  const std::regex ended(R"(all (\d+) streams ended by the server within ([0-9.]+) s)");
  std::smatch m;
  ASSERT_TRUE(wait_until(
      [&] {
        const std::string log = flood->log();
        return std::regex_search(log, m, ended);
      },
      std::chrono::seconds(static_cast<int>(kHeaderTimeout + kMargin))))
      << "the server never ended the held streams\n" << flood->log();
  EXPECT_TRUE(contains(flood->log(), m[1].str() + " unauthenticated result streams open"));
  EXPECT_LT(std::stod(m[2].str()), kHeaderTimeout + kMargin);
  ASSERT_EQ(server->wait_for(std::chrono::seconds(static_cast<int>(kRoundDeadline + 60))), 0)
      << server->log();
  std::cout << "[ figures  ] server RSS before the flood " << rss_before << " MiB, during "
            << rss_during << " MiB; flood streams ended within " << m[2].str() << " s\n";
  EXPECT_LT(rss_during, rss_before + 64) << "memory grew with the flood";
  const auto rows = metrics();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(number(rows[0], "clients_trained"), 2);
  EXPECT_LT(number(network()[0], "seconds"), kRoundDeadline + kMargin);
  EXPECT_TRUE(flood->running()) << "the flood should still be holding its connections";
}

// The server is SIGKILLed after some rounds and its latest checkpoint is then torn: --resume
// falls back to the previous generation (saying so), redoes the rounds after it, and the run ends with
// every round exactly once; rounds before the fallback point are kept unchanged.
TEST_F(FaultSuite, ServerKilledWithCorruptLatestCheckpointResumesFromThePrevious) {
  for (const char* n : {"a", "b"}) allow(n);
  const fs::path ckpt = tmp_ / "run" / "server.ckpt";
  auto server = start(server_args(4, 2), "server1.log");
  auto a = start(client_args("a", 0, 2), "a.log");
  auto b = start(client_args("b", 1, 2), "b.log");
  ASSERT_TRUE(wait_until([&] { return metrics().size() >= 2; }, 240s)) << server->log();
  server->kill(SIGKILL);
  ASSERT_TRUE(server->wait_for(10s).has_value());
  const auto before = metrics();
  ASSERT_LT(before.size(), 4u) << "the run ended before the kill";
  // Published after every round (for fedsign serve), not only at the end of the run.
  EXPECT_TRUE(fs::exists(tmp_ / "run" / "model.pt") && fs::exists(tmp_ / "run" / "model.json"));
  const int64_t latest = fl::load_server_checkpoint(ckpt).round;
  ASSERT_GE(latest, 2);
  // The previous generation is a separate, older file whatever moment the kill hit: one round
  // older, or two if it landed between the rotation's two renames (core/atomic_file.cpp).
  const fs::path prev = fl::previous_checkpoint(ckpt);
  ASSERT_TRUE(fs::exists(prev));
  ASSERT_FALSE(fs::equivalent(ckpt, prev)) << "one file under both names";
  const int64_t resumed_after = fl::load_server_checkpoint(prev).round;
  ASSERT_LT(resumed_after, latest);
  ASSERT_GE(resumed_after, latest - 2);
  fs::resize_file(ckpt, fs::file_size(ckpt) / 2);  // torn write / bad sector

  auto resumed = start(with(server_args(4, 2), {"--resume"}), "server2.log");
  ASSERT_EQ(resumed->wait_for(240s), 0) << resumed->log();
  const std::string log = resumed->log();
  EXPECT_TRUE(contains(log, "falling back to the previous generation")) << log;
  EXPECT_TRUE(contains(log, "after round " + std::to_string(resumed_after))) << log;
  const auto after = metrics();
  ASSERT_EQ(after.size(), 4u);
  for (std::size_t r = 0; r < after.size(); ++r) EXPECT_EQ(number(after[r], "round"), r + 1.0);
  for (std::size_t r = 0; r < static_cast<std::size_t>(resumed_after); ++r) EXPECT_EQ(after[r], before[r]);
  for (const auto& entry : fs::directory_iterator(tmp_ / "run")) {
    const std::string name = entry.path().filename().string();
    EXPECT_FALSE(name.rfind(".server.ckpt", 0) == 0) << name << ": a crashed write's temporary left";
  }
  EXPECT_EQ(a->wait_for(60s), 0) << a->log();
  EXPECT_EQ(b->wait_for(60s), 0) << b->log();
}

}  // namespace
}  // namespace fedsign::testing
