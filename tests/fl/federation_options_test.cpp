// One federation, one vocabulary: the federated options mean the same in `fl simulate` and
// `fl server` (and `fl client`), and a command refuses options it would ignore. Each case runs
// the same option through the front doors (real processes; the servers fail before waiting for
// clients or are given none to wait for).
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "tests/net/process.h"
#include "tests/testing/cli_runner.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign {
namespace {

using testing::run_cli;

class FederationOptions : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::write_kaggle_dataset(tmp_ / "data",
        {.num_classes = 4, .tracks_per_class = 4, .frames_per_track = 3});
    data_ = " --data " + (tmp_ / "data").string() + " --cache-dir " + (tmp_ / "cache").string() +
            " --threads 1 --log-level warn";
    std::ofstream(tmp_ / "tokens.txt") << "a tok-a\n";
  }
  std::string simulate(const std::string& more) const {
    return "fl simulate" + data_ + " --clients 3 --clients-per-round 2 --local-steps 1"
           " --model keras_cnn --batch-size 8 --precision fp32 " + more;
  }
  std::string server(const std::string& more) const {
    return "fl server --address 127.0.0.1:0 --tokens " + (tmp_ / "tokens.txt").string() +
           " --start-timeout 2 --log-level warn " + more;
  }
  std::string client(const std::string& more) const {
    return "fl client" + data_ + " --server 127.0.0.1:1 --name a --token tok-a --give-up-after 1 " +
           more;
  }
  testing::TempDir tmp_;
  std::string data_;
};

TEST_F(FederationOptions, CommandsRefuseOptionsTheyWouldIgnore) {
  // Local training takes its length and learning rate from the round's instructions, and a
  // client its model from the server: these would do nothing, so they are refused.
  for (const std::string flag : {"--epochs 3", "--schedule cosine", "--warmup-epochs 2"}) {
    auto sim = run_cli(simulate(flag + " --out " + (tmp_ / "s").string()), tmp_.path());
    EXPECT_NE(sim.exit_code, 0) << flag;
    EXPECT_NE(sim.err.find(flag.substr(0, flag.find(' '))), std::string::npos) << sim.err;
    auto srv = run_cli(server(flag + " --out " + (tmp_ / "v").string()), tmp_.path());
    EXPECT_NE(srv.exit_code, 0) << flag;
    auto cli = run_cli(client(flag), tmp_.path());
    EXPECT_NE(cli.exit_code, 0) << flag;
    EXPECT_NE(cli.err.find(flag.substr(0, flag.find(' '))), std::string::npos) << cli.err;
  }
  for (const std::string flag : {"--lr 0.1", "--model compact", "--strategy fedprox"}) {
    auto cli = run_cli(client(flag), tmp_.path());
    EXPECT_NE(cli.exit_code, 0) << flag << " is the server's to decide";
  }
}

TEST_F(FederationOptions, ResumeWithoutCheckpointIsAnErrorInBoth) {
  auto sim = run_cli(simulate("--rounds 2 --resume --out " + (tmp_ / "empty-sim").string()),
                     tmp_.path());
  EXPECT_NE(sim.exit_code, 0);
  EXPECT_NE(sim.err.find("no checkpoint to resume from"), std::string::npos) << sim.err;
  auto srv = run_cli(server("--rounds 2 --resume --out " + (tmp_ / "empty-srv").string()),
                     tmp_.path());
  EXPECT_NE(srv.exit_code, 0);
  EXPECT_NE(srv.err.find("no checkpoint to resume from"), std::string::npos) << srv.err;
}

TEST_F(FederationOptions, EvalEveryZeroEvaluatesOnlyAfterTheLastRound) {
  const auto run = tmp_ / "eval0";
  auto sim = run_cli(simulate("--rounds 3 --eval-every 0 --out " + run.string()), tmp_.path());
  ASSERT_EQ(sim.exit_code, 0) << sim.err;
  const auto rows = testing::read_csv(run / "metrics.csv");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].at("central_accuracy"), "");
  EXPECT_EQ(rows[1].at("central_accuracy"), "");
  EXPECT_NE(rows[2].at("central_accuracy"), "");
  // The network server runs the same driver: tests/net/loopback_test.cpp runs it with
  // --eval-every 0 and checks the same rows.
}

TEST_F(FederationOptions, CentralEvaluationSetIsDisjointFromEveryClientsData) {
  // summary.md counts the central held-out images and the clients' training and local test
  // images; disjoint parts of the 48 fixture images add up to exactly 48 (an overlap would count
  // an image twice), and the central part is the validation side of the track split.
  const auto run = tmp_ / "disjoint";
  auto sim = run_cli(simulate("--rounds 1 --val-fraction 0.25 --client-test-fraction 0.3 --out " +
                              run.string()),
                     tmp_.path());
  ASSERT_EQ(sim.exit_code, 0) << sim.err;
  std::ifstream in(run / "summary.md");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  long central = -1, train = -1, test = -1;
  const auto at = text.find("| data | ");
  ASSERT_NE(at, std::string::npos) << text;
  ASSERT_EQ(std::sscanf(text.c_str() + at,
                        "| data | %ld central held-out images; clients train on %ld real images and keep %ld",
                        &central, &train, &test),
            3)
      << text;
  EXPECT_EQ(central + train + test, 48);
  EXPECT_EQ(central, 12) << "one of the four tracks of each of the four classes";
  EXPECT_GT(test, 0);
}

TEST_F(FederationOptions, AvailabilityAndPartitionIndexAreChecked) {
  auto sim = run_cli(simulate("--min-available-clients 4 --out " + (tmp_ / "m").string()),
                     tmp_.path());
  EXPECT_NE(sim.exit_code, 0);
  EXPECT_NE(sim.err.find("--min-available-clients 4 exceeds --clients 3"), std::string::npos)
      << sim.err;
  auto cli = run_cli(client("--clients 3 --partition-index 3"), tmp_.path());
  EXPECT_NE(cli.exit_code, 0);
  EXPECT_NE(cli.err.find("--partition-index 3"), std::string::npos) << cli.err;
}

TEST_F(FederationOptions, ResumeRefusesChangedSettings) {
  // Both front doors check the settings saved in the checkpoint (fl::RunDriver).
  const auto run = tmp_ / "settings";
  auto first = run_cli(simulate("--rounds 1 --strategy fedavgm --server-momentum 0.5 --out " +
                                run.string()),
                       tmp_.path());
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto changed = run_cli(simulate("--rounds 2 --strategy fedavgm --server-momentum 0.9 --resume "
                                  "--out " + run.string()),
                         tmp_.path());
  EXPECT_NE(changed.exit_code, 0);
  EXPECT_NE(changed.err.find("server-momentum"), std::string::npos) << changed.err;
}

}  // namespace
}  // namespace fedsign
