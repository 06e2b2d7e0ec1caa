// `fl simulate --dp ...` end to end on tiny generated data: the epsilon spent reaches
// metrics.csv round by round (the accountant's own values), the final line and summary.md state
// it; a resumed run continues the account, and the privacy options are run settings (a resume
// with another clip is refused); an unreachable budget is refused before training, a reachable
// one is solved for; a budget the rounds would pass stops the run with the last good round's
// checkpoint kept.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "fedsign/fl/privacy/rdp_accountant.h"
#include "tests/net/process.h"
#include "tests/testing/cli_runner.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign {
namespace {

using testing::run_cli;

// What the accountant says `rounds` rounds at q = 3/6, z = 1, delta 1e-5 spend.
double privacy_epsilon(int64_t rounds) { return fl::privacy::epsilon_for(0.5, 1.0, rounds, 1e-5); }

class DpCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(testing::cli_is_built());  // a missing program fails the suite, never skips it
    testing::write_kaggle_dataset(tmp_ / "data",
        {.num_classes = 4, .tracks_per_class = 4, .frames_per_track = 3});
  }
  // 6 clients, 3 per round: q = 0.5. One local step, central evaluation after the last round only.
  std::string simulate(const std::string& more) const {
    return "fl simulate --data " + (tmp_ / "data").string() + " --cache-dir " +
           (tmp_ / "cache").string() +
           " --threads 1 --log-level warn --clients 6 --clients-per-round 3 --partition tracks"
           " --local-steps 1 --model keras_cnn --batch-size 8 --precision fp32 --eval-every 0 " +
           more;
  }
  static std::vector<double> epsilons(const std::filesystem::path& run) {
    std::vector<double> out;
    for (const auto& row : testing::read_csv(run / "metrics.csv")) {
      out.push_back(testing::number(row, "dp_epsilon"));
    }
    return out;
  }
  testing::TempDir tmp_;
};

TEST_F(DpCli, EpsilonPerRoundAndResume) {
  const auto run = tmp_ / "central";
  const std::string dp = "--dp central --dp-noise-multiplier 1.0 --out " + run.string();
  auto first = run_cli(simulate(dp + " --rounds 3"), tmp_.path());
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto rows = testing::read_csv(run / "metrics.csv");
  ASSERT_EQ(rows.size(), 3u);
  double previous = 0;
  for (const auto& row : rows) {
    const double eps = testing::number(row, "dp_epsilon");
    ASSERT_TRUE(std::isfinite(eps)) << "round " << row.at("round");
    EXPECT_GT(eps, previous) << "round " << row.at("round");
    previous = eps;
    EXPECT_DOUBLE_EQ(testing::number(row, "dp_clip"), 1.0);
  }
  const double three = privacy_epsilon(3);
  EXPECT_NEAR(previous, three, 1e-4 * three) << "q = 3/6, z = 1, delta 1e-5";
  EXPECT_NE(first.out.find("DP (central): epsilon"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("at delta 1e-05"), std::string::npos) << first.out;
  std::ifstream summary(run / "summary.md");
  const std::string text((std::istreambuf_iterator<char>(summary)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("| differential privacy | central"), std::string::npos) << text;

  // The privacy options are run settings.
  auto changed = run_cli(simulate(dp + " --rounds 4 --resume --dp-clip 2.0"), tmp_.path());
  EXPECT_NE(changed.exit_code, 0);
  EXPECT_NE(changed.err.find("dp-clip"), std::string::npos) << changed.err;
  // The same settings resume, and the account goes on from the checkpoint.
  auto resumed = run_cli(simulate(dp + " --rounds 4 --resume"), tmp_.path());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const auto all = epsilons(run);
  ASSERT_EQ(all.size(), 4u);
  EXPECT_GT(all[3], all[2]);
  EXPECT_NEAR(all[3], privacy_epsilon(4), 1e-4 * all[3]);
}

TEST_F(DpCli, TargetEpsilonIsSolvedForOrRefused) {
  // Below the floor of the RDP conversion at delta 1e-5: no noise reaches it, nothing trains.
  const auto refused = tmp_ / "refused";
  auto tiny = run_cli(simulate("--dp central --rounds 1 --target-epsilon 0.001 --out " +
                               refused.string()),
                      tmp_.path());
  EXPECT_EQ(tiny.exit_code, 1);
  EXPECT_NE(tiny.err.find("--target-epsilon 0.001 is out of reach"), std::string::npos) << tiny.err;
  EXPECT_FALSE(std::filesystem::exists(refused / "metrics.csv"));
  // A reachable one: the solved multiplier spends just under it in the planned rounds.
  const auto solved = tmp_ / "solved";
  auto ok = run_cli(simulate("--dp distributed --rounds 1 --target-epsilon 8 --out " +
                             solved.string()),
                    tmp_.path());
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  const auto eps = epsilons(solved);
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_LE(eps[0], 8.0);
  EXPECT_GT(eps[0], 7.9);
  // Without --clients-per-round there is no fixed rate to account.
  auto no_count = run_cli("fl simulate --data " + (tmp_ / "data").string() +
                              " --cache-dir " + (tmp_ / "cache").string() +
                              " --log-level warn --clients 6 --dp central --dp-noise-multiplier 1"
                              " --out " + (tmp_ / "no-count").string(),
                          tmp_.path());
  EXPECT_EQ(no_count.exit_code, 1);
  EXPECT_NE(no_count.err.find("--dp central needs --clients-per-round"), std::string::npos)
      << no_count.err;
}

TEST_F(DpCli, BudgetStopsTheRunAfterTheLastGoodRound) {
  // A budget between what one and two rounds spend: round 2 is refused.
  const double budget = 0.5 * (privacy_epsilon(1) + privacy_epsilon(2));
  const auto run = tmp_ / "budget";
  auto r = run_cli(simulate(fmt::format("--dp central --dp-noise-multiplier 1.0 --rounds 3 "
                                        "--target-epsilon {:.6f} --out {}",
                                        budget, run.string())),
                   tmp_.path());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error: DP budget: round 2 would reach epsilon"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("stopped after round 1"), std::string::npos) << r.err;
  EXPECT_TRUE(std::filesystem::exists(run / "server.ckpt")) << "round 1's checkpoint is kept";
  const auto eps = epsilons(run);
  ASSERT_EQ(eps.size(), 1u);
  EXPECT_LE(eps[0], budget);
}


// Federated fine-tuning from the command line: a pretrained file starts a DP run that trains the
// head alone, and a wrong file or group is refused in one line.
TEST_F(DpCli, FineTuningTheHeadUnderDp) {
  const auto pretrained = tmp_ / "pretrained";
  auto pre = run_cli(simulate("--rounds 1 --out " + pretrained.string()), tmp_.path());
  ASSERT_EQ(pre.exit_code, 0) << pre.err;
  const auto run = tmp_ / "head";
  auto tuned = run_cli(simulate("--rounds 2 --dp central --dp-noise-multiplier 1.0 --init-weights " +
                                (pretrained / "model.pt").string() +
                                " --trainable-groups head --out " + run.string()),
                       tmp_.path());
  ASSERT_EQ(tuned.exit_code, 0) << tuned.err;
  EXPECT_TRUE(std::filesystem::exists(run / "model.pt"));  // bit-identity: frozen_layers_test
  std::ofstream(tmp_ / "not_weights.pt") << "hello";
  auto wrong = run_cli(simulate("--rounds 1 --init-weights " + (tmp_ / "not_weights.pt").string() +
                                " --out " + (tmp_ / "wrong").string()),
                       tmp_.path());
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.err.find("not_weights.pt"), std::string::npos) << wrong.err;
  auto group = run_cli(simulate("--rounds 1 --trainable-groups stage9 --out " +
                                (tmp_ / "group").string()),
                       tmp_.path());
  EXPECT_NE(group.exit_code, 0);
  EXPECT_NE(group.err.find("stage9"), std::string::npos) << group.err;
}

}  // namespace
}  // namespace fedsign
