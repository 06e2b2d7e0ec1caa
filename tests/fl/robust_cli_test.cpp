// `fl simulate` with the Robustness, Attack simulation and Compression options, end to end on a
// tiny generated dataset (real processes): a defended run under attack finishes and reports its
// attackers, the options are run settings (resume refuses a changed rule), int8 uploads count a
// quarter of the bytes, the backdoor's success rate is a column, the cosine filter drops and
// remembers colluders' copies, abstaining attackers drop out (the grid's reference), and a rule
// that cannot work with the clients per round is refused up front with a one-line error.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/net/process.h"
#include "tests/testing/cli_runner.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign {
namespace {

using testing::run_cli;

class RobustCli : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::write_kaggle_dataset(tmp_ / "data",
        {.num_classes = 4, .tracks_per_class = 4, .frames_per_track = 3});
  }
  // `clients` clients, all of them in every round, one local step each.
  std::string simulate(int clients, const std::string& more) const {
    return "fl simulate --data " + (tmp_ / "data").string() + " --cache-dir " +
           (tmp_ / "cache").string() + " --threads 1 --log-level warn --clients " +
           std::to_string(clients) + " --clients-per-round " + std::to_string(clients) +
           " --local-steps 1 --model keras_cnn --batch-size 8 --precision fp32 " + more;
  }
  testing::TempDir tmp_;
};

TEST_F(RobustCli, MedianUnderSignFlipReportsAttackers) {
  const auto run = tmp_ / "median";
  auto sim = run_cli(simulate(4, "--rounds 2 --robust median --attack sign-flip "
                                 "--attack-fraction 0.3 --out " + run.string()),
                     tmp_.path());
  ASSERT_EQ(sim.exit_code, 0) << sim.err;
  EXPECT_NE(sim.out.find("final central accuracy"), std::string::npos) << sim.out;
  // round(0.3 x 4) = 1 attacker, and with all 4 clients in every round it trains in both.
  const auto rows = testing::read_csv(run / "metrics.csv");
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    ASSERT_EQ(row.count("attackers"), 1u) << "no attackers column";
    EXPECT_EQ(row.at("attackers"), "1");
    EXPECT_GT(testing::number(row, "bytes_up"), 0);
    const double buffered = testing::number(row, "robust_buffered_updates");
    EXPECT_GE(buffered, 1);
    EXPECT_LE(buffered, 4);
  }
  const auto attackers = nlohmann::json::parse(testing::read_text(run / "attackers.json"));
  EXPECT_EQ(attackers.at("attack"), "sign-flip");
  ASSERT_EQ(attackers.at("attackers").size(), 1u);
  const int64_t id = attackers.at("attackers")[0];
  EXPECT_GE(id, 0);
  EXPECT_LT(id, 4);
  EXPECT_NE(testing::read_text(run / "summary.md").find("fedavg+median"), std::string::npos);

  // The Robustness options are run settings: resuming with another rule is refused.
  auto changed = run_cli(simulate(4, "--rounds 3 --resume --robust trimmed-mean --attack "
                                     "sign-flip --attack-fraction 0.3 --out " + run.string()),
                         tmp_.path());
  EXPECT_NE(changed.exit_code, 0);
  // The strategy's name carries the rule, so the strategy check names both rules.
  EXPECT_NE(changed.err.find("cannot resume a fedavg+median run with strategy fedavg+trimmed-mean"),
            std::string::npos)
      << changed.err;
}

TEST_F(RobustCli, Int8UploadsCountAQuarterOfTheBytes) {
  std::map<std::string, double> up, down;
  for (const std::string codec : {"none", "int8"}) {
    const auto run = tmp_ / codec;
    auto sim = run_cli(simulate(3, "--rounds 1 --compress " + codec + " --out " + run.string()),
                       tmp_.path());
    ASSERT_EQ(sim.exit_code, 0) << sim.err;
    const auto rows = testing::read_csv(run / "metrics.csv");
    ASSERT_EQ(rows.size(), 1u);
    up[codec] = testing::number(rows[0], "bytes_up");
    down[codec] = testing::number(rows[0], "bytes_down");
    EXPECT_EQ(rows[0].count("attackers"), 0u) << "no attack, no attackers column";
  }
  EXPECT_GT(up["int8"], 0);
  EXPECT_GE(up["none"] / up["int8"], 3.9);
  EXPECT_EQ(down["none"], down["int8"]);  // the model still goes down as float32
  EXPECT_EQ(down["none"], up["none"]);    // three float32 models each way
}

TEST_F(RobustCli, BackdoorSuccessRateIsAColumn) {
  const auto run = tmp_ / "backdoor";
  auto sim = run_cli(simulate(3, "--rounds 1 --attack backdoor --attack-fraction 0.34 "
                                 "--backdoor-target 1 --out " + run.string()),
                     tmp_.path());
  ASSERT_EQ(sim.exit_code, 0) << sim.err;
  const auto rows = testing::read_csv(run / "metrics.csv");
  ASSERT_EQ(rows.size(), 1u);
  const double asr = testing::number(rows[0], "backdoor_asr");
  EXPECT_GE(asr, 0.0) << "backdoor_asr missing or empty";
  EXPECT_LE(asr, 1.0);
  EXPECT_EQ(rows[0].at("attackers"), "1");
  EXPECT_NE(sim.out.find("backdoor attack success rate"), std::string::npos) << sim.out;
}

TEST_F(RobustCli, CosineFilterDropsColludersCopiesAndRemembersThem) {
  // 2 of 5 clients collude (little-is-enough): both send the same crafted update every round, so
  // the copy test drops both, and with memory they stay caught (dropped in their first round: in
  // all of their rounds, so the drop share does not spare them). The output-layer test runs on
  // the real model's last Linear and reports its cosines; the label test labels the server's 8
  // root images with every update's model.
  const auto run = tmp_ / "cosine";
  auto sim = run_cli(simulate(5, "--rounds 2 --robust cosine-filter --duplicate-cosine 0.999 "
                                 "--cosine-memory --cosine-drop-share 0.5 --cosine-head "
                                 "--label-test 0.5 --fltrust-root 8 "
                                 "--attack little-is-enough --attack-fraction 0.4 --out " +
                                 run.string()),
                     tmp_.path());
  ASSERT_EQ(sim.exit_code, 0) << sim.err;
  const auto rows = testing::read_csv(run / "metrics.csv");
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    EXPECT_EQ(row.at("attackers"), "2");
    EXPECT_EQ(testing::number(row, "robust_duplicates"), 2);
    EXPECT_LE(testing::number(row, "robust_selected"), 3);
    EXPECT_GE(testing::number(row, "robust_caught_clients"), 2);
    EXPECT_GE(testing::number(row, "robust_head_dropped"), 0);
    const double head_cosine = testing::number(row, "robust_mean_head_cosine");
    EXPECT_GE(head_cosine, -1.0);
    EXPECT_LE(head_cosine, 1.0);
    const double recall = testing::number(row, "robust_label_recall");
    EXPECT_GE(recall, 0.0);
    EXPECT_LE(recall, 1.0);
    EXPECT_GE(testing::number(row, "robust_label_dropped"), 0);
  }
  EXPECT_NE(testing::read_text(run / "summary.md").find("fedavg+cosine-filter"),
            std::string::npos);
}

TEST_F(RobustCli, ServerRefusesTheLabelTestWithoutItsRootSet) {
  // Refused before a socket opens: the label test labels the server's root set, drawn from
  // --data, which this server does not have.
  auto server = run_cli("fl server --address 127.0.0.1:0 --rounds 1 --robust cosine-filter "
                        "--label-test 0.5",
                        tmp_.path());
  EXPECT_NE(server.exit_code, 0);
  EXPECT_NE(server.err.find("--label-test need --data"), std::string::npos) << server.err;
}

TEST_F(RobustCli, AbstainingAttackersDropOutAndTheOthersAreAveraged) {
  // The grid's reference column: 2 of 5 clients never send, every round, and the round goes on
  // with the 3 others (the same 3 uploads a round as a run with those 3 alone would send).
  const auto run = tmp_ / "absent";
  auto sim = run_cli(simulate(5, "--rounds 2 --attack abstain --attack-fraction 0.4 --out " +
                                     run.string()),
                     tmp_.path());
  ASSERT_EQ(sim.exit_code, 0) << sim.err;
  const auto plain = tmp_ / "plain";
  ASSERT_EQ(run_cli(simulate(5, "--rounds 1 --out " + plain.string()), tmp_.path()).exit_code, 0);
  const double bytes_per_client =
      testing::number(testing::read_csv(plain / "metrics.csv").at(0), "bytes_up") / 5;
  const auto rows = testing::read_csv(run / "metrics.csv");
  ASSERT_EQ(rows.size(), 2u);
  for (const auto& row : rows) {
    EXPECT_EQ(row.at("attackers"), "2");
    EXPECT_EQ(row.at("failures"), "2");
    EXPECT_EQ(row.at("clients_trained"), "3");
    EXPECT_DOUBLE_EQ(testing::number(row, "bytes_up"), 3 * bytes_per_client);
  }
  const auto attackers = nlohmann::json::parse(testing::read_text(run / "attackers.json"));
  EXPECT_EQ(attackers.at("attack"), "abstain");
  EXPECT_EQ(attackers.at("attackers").size(), 2u);
}

TEST_F(RobustCli, KrumWithTooFewClientsIsAOneLineError) {
  auto sim = run_cli(simulate(3, "--robust krum --krum-f 1 --out " + (tmp_ / "krum").string()),
                     tmp_.path());
  EXPECT_EQ(sim.exit_code, 1);
  EXPECT_NE(sim.err.find("--robust krum with --krum-f 1 needs at least 4 clients per round"),
            std::string::npos)
      << sim.err;
  EXPECT_EQ(std::count(sim.err.begin(), sim.err.end(), '\n'), 1) << sim.err;
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "krum" / "metrics.csv"));
}

}  // namespace
}  // namespace fedsign
