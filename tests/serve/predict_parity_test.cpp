// fedsign serve answers what `fedsign predict` answers on the same images, one image per
// request and as one multipart batch (one forward pass). Runs the built fedsign program.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <torch/torch.h>

#include "fedsign/core/hash.h"
#include "fedsign/models/int8_compact.h"
#include "fedsign/train/int8_model.h"
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

TEST_F(ServeTest, Int8AnswersEqualFedsignPredictInInt8) {
  if (!models::int8_inference_available()) GTEST_SKIP() << "no x86 quantized engine";
  {  // Ranges as `fedsign quantize` would save them (calibrated here on random inputs).
    train::LoadedModel loaded = train::load_model_bundle(run_dir());
    torch::manual_seed(2);
    train::Int8Record record;
    record.ranges = models::calibrate_int8(*loaded.model, {torch::randn({16, 3, 32, 32})});
    record.weights_checksum = fedsign::file_checksum(loaded.weights_file);
    train::save_int8_record(train::int8_ranges_file(loaded.weights_file), record);
  }
  ServeOptions options = test_options();
  options.precision = "int8";
  start(options);
  const auto& image = images_.front();
  const auto cli = fedsign::testing::run_cli(
      fmt::format("predict {} {} --json --precision int8 --top-k 3", run_dir().string(), image.string()),
      tmp_.path());
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  const auto want = nlohmann::json::parse(cli.out).at(0).at("top");
  auto http = client();
  const auto res = http.Post("/v1/classify", read_bytes(image), "image/png");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  ASSERT_EQ(res->status, 200) << res->body;
  const auto top = nlohmann::json::parse(res->body)["results"][0]["top"];
  ASSERT_EQ(top.size(), 3u);
  for (std::size_t j = 0; j < 3; ++j) {
    EXPECT_EQ(top[j]["class"], want[j]["class"]);
    EXPECT_NEAR(top[j]["confidence"].get<double>(), want[j]["confidence"].get<double>(), 1e-5);
  }
}

}  // namespace
}  // namespace fedsign::serve::testing
