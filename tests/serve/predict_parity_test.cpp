// fedsign serve answers what `fedsign predict` answers on the same images, one image per
// request and as one multipart batch (one forward pass). Runs the built fedsign program.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/serve/serve_fixture.h"
#include "tests/testing/cli_runner.h"

namespace fedsign::serve::testing {
namespace {

TEST_F(ServeTest, ClassifyAnswersEqualFedsignPredict) {
  start();
  const std::vector<std::filesystem::path> images(images_.begin(), images_.begin() + 4);
  std::string args = fmt::format("predict {} --json --precision fp32 --top-k 3", run_dir().string());
  for (const auto& i : images) args += " " + i.string();
  const auto cli = fedsign::testing::run_cli(args, tmp_.path());
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  const auto expected = nlohmann::json::parse(cli.out);
  ASSERT_EQ(expected.size(), images.size());

  auto http = client();
  // One image per request, and all four in one multipart batch.
  httplib::MultipartFormDataItems batch;
  for (std::size_t i = 0; i < images.size(); ++i) {
    const std::string bytes = read_bytes(images[i]);
    batch.push_back({"image", bytes, images[i].filename().string(), "image/png"});
    const auto res = http.Post("/v1/classify", bytes, "image/png");
    ASSERT_TRUE(res) << httplib::to_string(res.error());
    ASSERT_EQ(res->status, 200) << res->body;
    const auto got = nlohmann::json::parse(res->body);
    EXPECT_EQ(got["model"]["version"], 1);
    ASSERT_EQ(got["results"].size(), 1u);
    const auto& top = got["results"][0]["top"];
    const auto& want = expected[i]["top"];
    ASSERT_EQ(top.size(), 3u);
    for (std::size_t j = 0; j < 3; ++j) {
      EXPECT_EQ(top[j]["class"], want[j]["class"]) << images[i];
      EXPECT_EQ(top[j]["name"], want[j]["name"]);
      EXPECT_NEAR(top[j]["confidence"].get<double>(), want[j]["confidence"].get<double>(), 1e-5);
    }
  }
  const auto res = http.Post("/v1/classify?top_k=2", batch);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto got = nlohmann::json::parse(res->body);
  ASSERT_EQ(got["results"].size(), images.size());
  EXPECT_EQ(got["batch_images"], 4);  // one forward pass for the whole request
  for (std::size_t i = 0; i < images.size(); ++i) {
    const auto& top = got["results"][i]["top"];
    ASSERT_EQ(top.size(), 2u);
    EXPECT_EQ(top[0]["class"], expected[i]["top"][0]["class"]);
    EXPECT_NEAR(top[1]["confidence"].get<double>(),
                expected[i]["top"][1]["confidence"].get<double>(), 1e-5);
  }
}

}  // namespace
}  // namespace fedsign::serve::testing
