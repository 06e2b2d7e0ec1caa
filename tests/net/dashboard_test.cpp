// The live dashboard's parts: the page served at "/" (without the token, which guards only the
// data) and the run board that builds the status document it polls.
#include "fedsign/net/dashboard.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "fedsign/fl/run/run_metrics.h"
#include "fedsign/net/status_http.h"

namespace fedsign::net {
namespace {

TEST(Dashboard, PageIsServedWithoutTheTokenAndTheDataIsNot) {
  StatusEndpoint endpoint("127.0.0.1:0", [] { return std::string("{\"round\": 2}"); }, "s3cret");
  httplib::Client http("127.0.0.1", endpoint.port());
  auto page = http.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->body, dashboard_page());
  EXPECT_NE(page->get_header_value("Content-Type").find("text/html"), std::string::npos);
  // Nothing outside the page may be loaded: no CDN, no external script.
  EXPECT_NE(page->get_header_value("Content-Security-Policy").find("default-src 'none'"),
            std::string::npos);
  EXPECT_EQ(page->body.find("http://"), std::string::npos);
  EXPECT_EQ(page->body.find("https://"), std::string::npos);
  for (const char* id : {"id=\"round\"", "id=\"accuracy\"", "id=\"epsilon\"", "id=\"bytes\"",
                         "id=\"accuracy-chart\"", "id=\"loss-chart\"", "id=\"client-table\""}) {
    EXPECT_NE(page->body.find(id), std::string::npos) << id;
  }
  auto data = http.Get("/status");
  ASSERT_TRUE(data);
  EXPECT_EQ(data->status, 401);
}

TEST(Dashboard, BoardKeepsTheHistoryAndThePhase) {
  RunBoard board;
  nlohmann::json s = board.status({{"kind", "simulation"}, {"rounds", 3}});
  EXPECT_EQ(s["round"], 0);
  EXPECT_EQ(s["phase"], "starting");
  EXPECT_TRUE(s["history"].empty());
  EXPECT_TRUE(s["last_round"].is_null());

  fl::RoundMetrics m;
  m.round = 1;
  m.clients_sampled = 4;
  m.clients_trained = 3;
  m.failures = 1;
  m.central_accuracy = 0.5;
  m.dp_epsilon = 1.25;
  m.columns["bytes_up"] = 1000;
  board.add_round(m, {{"bytes_sent", 77}});
  m.round = 2;
  m.central_accuracy = NAN;  // a round without evaluation
  board.add_round(m);
  board.set_phase(2, "done");
  s = board.status({{"kind", "simulation"}, {"rounds", 3}});
  EXPECT_EQ(s["kind"], "simulation");
  EXPECT_EQ(s["rounds"], 3);
  EXPECT_EQ(s["round"], 2);
  EXPECT_EQ(s["phase"], "done");
  ASSERT_EQ(s["history"].size(), 2u);
  EXPECT_EQ(s["history"][0]["central_accuracy"], 0.5);
  EXPECT_EQ(s["history"][0]["failures"], 1);
  EXPECT_EQ(s["history"][0]["dp_epsilon"], 1.25);
  EXPECT_EQ(s["history"][0]["columns"]["bytes_up"], 1000);
  EXPECT_EQ(s["history"][0]["bytes_sent"], 77) << "extra fields join the round's row";
  EXPECT_TRUE(s["history"][1]["central_accuracy"].is_null()) << "NaN becomes null, not NaN";
  EXPECT_EQ(s["last_round"]["round"], 2);
  EXPECT_EQ(board.last_round()["round"], 2);
}

}  // namespace
}  // namespace fedsign::net
