// TLS and mutual TLS on loopback with a throwaway CA generated at test time by the openssl CLI
// (tests/net/certs.h; no key is committed): only a client with a certificate from the right CA whose name matches,
// and a valid, unrevoked token, may join.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>

#include "tests/net/certs.h"
#include "tests/net/process.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

using testing::make_ca;
using testing::make_cert;

TEST(Tls, OnlyClientsWithValidCredentialsJoin) {
  testing::TempDir tmp;
  const fs::path certs = tmp / "certs";
  fs::create_directories(certs);
  make_ca(certs, "ca");
  make_ca(certs, "rogue");
  make_cert(certs, "ca", "server", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth");
  for (const char* n : {"alice", "bob"}) make_cert(certs, "ca", n, "extendedKeyUsage=clientAuth");
  make_cert(certs, "rogue", "mallory", "extendedKeyUsage=clientAuth");
  // mallory's certificate says CN=mallory but comes from the wrong CA.
  testing::write_text(tmp / "tokens.txt", "alice tok-alice\nbob tok-bob revoked\nmallory tok-mallory\n");

  testing::write_kaggle_dataset(tmp / "data",
      {.num_classes = 5, .tracks_per_class = 3, .frames_per_track = 3});
  const std::string address = "127.0.0.1:" + std::to_string(testing::free_port());
  auto cert = [&](const std::string& n, const char* ext) { return (certs / (n + ext)).string(); };

  testing::Process server(
      {"fl", "server", "--address", address, "--rounds", "1", "--min-available-clients", "1", "--tokens",
       (tmp / "tokens.txt").string(), "--out", (tmp / "run").string(), "--tls-cert",
       cert("server", ".pem"), "--tls-key", cert("server", ".key"), "--tls-client-ca",
       cert("ca", ".pem"), "--local-steps", "2", "--start-timeout", "240", "--shutdown-grace", "5"},
      tmp / "server.log");

  auto client = [&](const std::string& name, const std::string& token, const std::string& who,
                    const std::string& ca) {
    std::vector<std::string> args{"fl", "client", "--server", address, "--name", name, "--token",
                                  token, "--data", (tmp / "data").string(), "--cache-dir",
                                  (tmp / "cache").string(), "--threads", "1", "--batch-size", "8",
                                  "--tls-ca", cert(ca, ".pem"), "--tls-server-name", "localhost",
                                  "--give-up-after", "4", "--backoff-initial", "0.2",
                                  "--backoff-max", "1"};
    if (!who.empty()) {
      const std::vector<std::string> more{"--tls-cert", cert(who, ".pem"), "--tls-key",
                                          cert(who, ".key")};
      args.insert(args.end(), more.begin(), more.end());
    }
    return std::make_unique<testing::Process>(args, tmp / (name + "-" + who + ".log"));
  };

  struct Bad {
    std::string name, token, who, ca, expect;
  };
  const std::vector<Bad> bad = {
      {"alice", "tok-alice", "", "ca", ""},              // no client certificate
      {"mallory", "tok-mallory", "mallory", "ca", ""},  // certificate from another CA
      {"alice", "wrong", "alice", "ca", "refused"},      // wrong token
      {"carol", "tok-carol", "alice", "ca", "refused"},  // unknown name (and not her certificate)
      {"bob", "tok-bob", "bob", "ca", "revoked"},        // revoked
      {"alice", "tok-alice", "alice", "rogue", ""},      // does not trust the server
  };
  for (const auto& b : bad) {
    auto p = client(b.name, b.token, b.who, b.ca);
    auto code = p->wait_for(60s);
    ASSERT_TRUE(code.has_value()) << b.name << "/" << b.who << " did not give up";
    EXPECT_NE(*code, 0) << b.name << "/" << b.who << "\n" << p->log();
    EXPECT_EQ(p->log().find("registered with"), std::string::npos) << p->log();
    if (!b.expect.empty()) EXPECT_NE(p->log().find(b.expect), std::string::npos) << p->log();
  }
  EXPECT_EQ(server.log().find("registered as"), std::string::npos) << server.log();

  auto good = client("alice", "tok-alice", "alice", "ca");
  ASSERT_EQ(server.wait_for(300s), 0) << server.log() << good->log();
  EXPECT_EQ(good->wait_for(30s), 0) << good->log();
  EXPECT_NE(server.log().find("client 'alice' registered"), std::string::npos);
}

}  // namespace
}  // namespace fedsign
