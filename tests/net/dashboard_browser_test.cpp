// The live dashboard in a real browser: `fl simulate --status-address` on loopback, headless
// Chromium (Debian's `chromium`, installed by scripts/setup.sh) loads the page during the run,
// the test reads the current round from the DOM the page's script filled in, and a screenshot
// is taken. Bounded: one run on a tiny generated dataset, killed at the end.
#include <gtest/gtest.h>
#include <httplib.h>

#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <regex>

#include "tests/net/process.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign {
namespace {
using namespace std::chrono_literals;

// Runs a shell command (bounded by `timeout`) and returns its standard output.
std::string run_shell(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (!pipe) return out;
  std::array<char, 4096> buffer{};
  for (std::size_t n; (n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0;) out.append(buffer.data(), n);
  ::pclose(pipe);
  return out;
}

TEST(DashboardBrowser, ChromiumReadsTheRoundWhileTheRunGoes) {
  ASSERT_EQ(std::system("command -v chromium > /dev/null"), 0)
      << "headless Chromium is needed (scripts/setup.sh installs Debian's chromium)";
  testing::TempDir tmp;
  testing::FixtureOptions fixture;
  fixture.num_classes = 5;
  fixture.tracks_per_class = 4;
  testing::write_kaggle_dataset(tmp / "data", fixture);
  testing::write_text(tmp / "token", "dash-t0ken\n");
  const int port = testing::free_port();
  const std::string address = "127.0.0.1:" + std::to_string(port);
  // Many short rounds, so the run is still going when the browser looks; killed at the end.
  testing::Process run({"fl", "simulate", "--data", (tmp / "data").string(), "--cache-dir",
                        (tmp / "cache").string(), "--threads", "1", "--clients", "3",
                        "--rounds", "500", "--local-steps", "1", "--model", "keras_cnn",
                        "--batch-size", "8", "--precision", "fp32", "--status-address", address,
                        "--status-token-file", (tmp / "token").string(), "--out",
                        (tmp / "run").string()},
                       tmp / "run.log");
  httplib::Client http("127.0.0.1", port);
  ASSERT_TRUE(testing::wait_until(
      [&] {
        auto res = http.Get("/status", {{"Authorization", "Bearer dash-t0ken"}});
        return res && res->status == 200 &&
               nlohmann::json::parse(res->body)["history"].size() >= 2;
      },
      120s))
      << run.log();
  auto anonymous = http.Get("/status");
  ASSERT_TRUE(anonymous);
  EXPECT_EQ(anonymous->status, 401);

  const std::string chromium = "timeout 90 chromium --headless --no-sandbox --disable-gpu "
                               "--hide-scrollbars --user-data-dir=" + (tmp / "browser").string() +
                               " --virtual-time-budget=4000 ";
  const std::string url = "http://" + address + "/";
  const std::string dom = run_shell(chromium + "--dump-dom '" + url + "#token=dash-t0ken' 2>/dev/null");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(dom, m, std::regex("id=\"round\">(\\d+)/500<"))) << dom.substr(0, 3000);
  EXPECT_GE(std::stoi(m[1]), 1) << "the page shows the run's current round";
  ASSERT_TRUE(std::regex_search(dom, m, std::regex("id=\"accuracy\">([0-9.]+)%<"))) << dom.substr(0, 3000);
  EXPECT_GE(std::stod(m[1]), 0.0);
  EXPECT_NE(dom.find("id=\"phase\">training<"), std::string::npos);

  // Without the token the page loads but the data does not, and it says why.
  const std::string locked = run_shell(chromium + "--dump-dom '" + url + "' 2>/dev/null");
  EXPECT_NE(locked.find("needs its token"), std::string::npos) << locked.substr(0, 3000);
  EXPECT_NE(locked.find("id=\"round\">-<"), std::string::npos);

  const auto shot = tmp / "dashboard.png";
  run_shell(chromium + "--window-size=1120,760 --screenshot=" + shot.string() + " '" + url +
            "#token=dash-t0ken' 2>/dev/null");
  ASSERT_TRUE(std::filesystem::exists(shot));
  EXPECT_GT(std::filesystem::file_size(shot), 10000u);
  run.kill(SIGKILL);
}

}  // namespace
}  // namespace fedsign
