// fedsign serve over HTTP on loopback (in process): ROI, detect, every error status (400, 401,
// 403, 404, 413, 503) with a one-line reason, and /metrics. Answers equal to `fedsign predict`
// (which runs the built program): predict_parity_test.cpp.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <future>

#include "fedsign/serve/routes.h"
#include "fedsign/train/predictor.h"
#include "tests/serve/serve_fixture.h"
#include "tests/testing/gtsrb_fixture.h"

namespace fedsign::serve::testing {
namespace {

bool one_line(const std::string& body) {
  return !body.empty() && body.find('\n') == body.size() - 1;
}

TEST_F(ServeTest, RoiCropsBeforeClassifying) {
  start();
  const train::Predictor predictor(train::load_model_bundle(run_dir()), "fp32");
  const std::string bytes = read_bytes(images_[0]);
  const data::Roi roi{2, 3, 20, 25};
  std::vector<std::uint8_t> pixels(predictor.image_bytes());
  ASSERT_EQ(predictor.decode(images_[0], pixels.data(), &roi), "");
  const auto want = predictor.classify(pixels.data(), 1, 1)[0][0];

  auto http = client();
  const auto res = http.Post("/v1/classify?roi=2,3,20,25&top_k=1", bytes, "image/png");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto top = nlohmann::json::parse(res->body)["results"][0]["top"][0];
  EXPECT_EQ(top["class"], want.class_id);
  EXPECT_NEAR(top["confidence"].get<double>(), want.confidence, 1e-5);
}

TEST_F(ServeTest, BadRequestsAnswer400WithOneLineReason) {
  start();
  auto http = client();
  const std::string png = read_bytes(images_[0]);
  struct Case {
    std::string path, body, reason;
  };
  const std::vector<Case> cases = {
      {"/v1/classify", std::string(300, '\x7f'), "cannot decode image"},
      {"/v1/classify", png.substr(0, png.size() / 3), "cannot decode image"},
      {"/v1/classify", "", "empty body"},
      {"/v1/classify?roi=1,2,3", png, "roi '1,2,3' is not x1,y1,x2,y2"},
      {"/v1/classify?roi=5,5,1,1", png, "needs 0 <= x1 <= x2"},
      {"/v1/classify?top_k=abc", png, "top_k 'abc' is not an integer"},
      {"/v1/classify?top_k=0", png, "top_k must be at least 1"},
      {"/v1/detect", "not an image", "cannot decode image"},
  };
  for (const auto& c : cases) {
    const auto res = http.Post(c.path, c.body, "application/octet-stream");
    ASSERT_TRUE(res) << c.path;
    EXPECT_EQ(res->status, 400) << c.path << ": " << res->body;
    EXPECT_TRUE(one_line(res->body)) << res->body;
    EXPECT_NE(res->body.find(c.reason), std::string::npos) << c.path << ": " << res->body;
  }
  // A batch names the bad image; a batch without images is refused.
  const auto res = http.Post("/v1/classify", httplib::MultipartFormDataItems{
                                                 {"image", png, "a.png", "image/png"},
                                                 {"image", "garbage", "b.png", "image/png"}});
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400);
  EXPECT_NE(res->body.find("image 1: cannot decode image"), std::string::npos) << res->body;
  const auto none = http.Post("/v1/classify", httplib::MultipartFormDataItems{{"x", "1", "", ""}});
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 400);
  // The service still answers after all of that.
  const auto ok = http.Post("/v1/classify", png, "image/png");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  const auto missing = http.Get("/v1/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_TRUE(one_line(missing->body)) << missing->body;
}

TEST_F(ServeTest, OversizedBodyOrBatchAnswers413) {
  auto options = test_options();
  options.max_body_bytes = 65536;
  options.max_images = 2;
  start(options);
  auto http = client();
  const auto big = http.Post("/v1/classify", std::string(100000, 'x'), "image/png");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_NE(big->body.find("larger than 65536 bytes"), std::string::npos) << big->body;
  const std::string png = read_bytes(images_[0]);
  ASSERT_LT(3 * png.size() + 1000, 65536u);
  httplib::MultipartFormDataItems three(3, {"image", png, "a.png", "image/png"});
  const auto many = http.Post("/v1/classify", three);
  ASSERT_TRUE(many);
  EXPECT_EQ(many->status, 413);
  EXPECT_NE(many->body.find("3 images in one request, at most 2"), std::string::npos) << many->body;
}

TEST_F(ServeTest, FullQueueAnswers503AndNotReady) {
  auto options = test_options();
  options.batching.max_queue = 1;
  start(options);
  service_->batcher().pause();
  const std::string png = read_bytes(images_[0]);
  auto first = std::async(std::launch::async, [&] {
    auto http = client();
    auto res = http.Post("/v1/classify", png, "image/png");
    return res ? res->status : -1;
  });
  for (int i = 0; i < 2000 && service_->batcher().queued_images() < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(service_->batcher().queued_images(), 1);
  auto http = client();
  const auto refused = http.Post("/v1/classify", png, "image/png");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->get_header_value("Retry-After"), "1");
  EXPECT_NE(refused->body.find("inference queue full"), std::string::npos) << refused->body;
  const auto ready = http.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  service_->batcher().resume();
  EXPECT_EQ(first.get(), 200);
  EXPECT_EQ(http.Get("/readyz")->status, 200);
}

TEST_F(ServeTest, BearerTokensGuardTheApiNotTheProbes) {
  fedsign::testing::write_text(tmp_ / "tokens.txt", "app s3cret\nold 0ld revoked\n");
  auto options = test_options();
  options.tokens_file = (tmp_ / "tokens.txt").string();
  start(options);
  const std::string png = read_bytes(images_[0]);
  auto http = client();
  const auto none = http.Post("/v1/classify", png, "image/png");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(none->get_header_value("WWW-Authenticate"), "Bearer");
  EXPECT_EQ(http.Get("/metrics")->status, 401);
  EXPECT_EQ(http.Get("/healthz")->status, 200);
  http.set_bearer_token_auth("wrong");
  EXPECT_EQ(http.Post("/v1/classify", png, "image/png")->status, 401);
  http.set_bearer_token_auth("0ld");
  EXPECT_EQ(http.Post("/v1/classify", png, "image/png")->status, 403);
  http.set_bearer_token_auth("s3cret");
  EXPECT_EQ(http.Post("/v1/classify", png, "image/png")->status, 200);
  EXPECT_EQ(http.Get("/metrics")->status, 200);
}

TEST_F(ServeTest, DetectAnswersTheDetectorsBoxes) {
  auto options = test_options();
  options.detector.threshold = 0.0;  // a random model: keep every read candidate
  start(options);
  cv::Mat street(240, 320, CV_8UC3, cv::Scalar(110, 120, 115));
  cv::circle(street, {100, 120}, 30, cv::Scalar(0, 0, 220), -1);  // red disc, white inside
  cv::circle(street, {100, 120}, 20, cv::Scalar(255, 255, 255), -1);
  cv::circle(street, {240, 80}, 25, cv::Scalar(200, 60, 0), -1);  // blue disc
  std::vector<uchar> png;
  ASSERT_TRUE(cv::imencode(".png", street, png));

  const auto loaded = train::load_model_bundle(run_dir());
  experiments::SignDetector detector(loaded.model, 32, data::Contrast::kNone, options.detector);
  const auto want = nlohmann::json::parse(experiments::detections_json(detector.detect(street).detections));
  ASSERT_FALSE(want.empty());

  auto http = client();
  const auto res = http.Post("/v1/detect", std::string(png.begin(), png.end()), "image/png");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const auto got = nlohmann::json::parse(res->body);
  EXPECT_EQ(got["width"], 320);
  ASSERT_EQ(got["detections"].size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got["detections"][i]["box"], want[i]["box"]);
    EXPECT_EQ(got["detections"][i]["class"], want[i]["class"]);
    EXPECT_NEAR(got["detections"][i]["confidence"].get<double>(),
                want[i]["confidence"].get<double>(), 1e-5);
  }
}

TEST_F(ServeTest, MetricsCountRequestsByStatusAndShowTheModel) {
  start();
  auto http = client();
  const std::string png = read_bytes(images_[0]);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(http.Post("/v1/classify", png, "image/png")->status, 200);
  ASSERT_EQ(http.Post("/v1/classify", "junk", "image/png")->status, 400);
  const auto res = http.Get("/metrics");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  const std::string& m = res->body;
  auto has = [&](const std::string& line) { return m.find(line) != std::string::npos; };
  EXPECT_TRUE(has("fedsign_serve_requests_total{route=\"classify\",status=\"200\"} 3\n")) << m;
  EXPECT_TRUE(has("fedsign_serve_requests_total{route=\"classify\",status=\"400\"} 1\n")) << m;
  EXPECT_TRUE(has("fedsign_serve_request_seconds_count{route=\"classify\"} 4\n")) << m;
  EXPECT_TRUE(has("fedsign_serve_request_seconds_bucket{route=\"classify\",le=\"+Inf\"} 4\n"));
  EXPECT_TRUE(has("fedsign_serve_batch_images_count 3\n")) << m;
  EXPECT_TRUE(has("fedsign_serve_batch_images_bucket{le=\"1\"} 3\n")) << m;
  EXPECT_TRUE(has("fedsign_serve_queue_images 0\n"));
  EXPECT_TRUE(has("fedsign_serve_model_version{checksum=\"" +
                  service_->models().current()->checksum + "\"} 1\n")) << m;
  EXPECT_TRUE(has("fedsign_serve_model_loaded_timestamp_seconds "));
  EXPECT_EQ(service_->metrics().requests("classify", 400), 1u);
}

TEST(ParseRoi, AcceptsFourOrderedCoordinatesOnly) {
  const auto roi = parse_roi("1,2,30,40");
  EXPECT_EQ(roi.x1, 1);
  EXPECT_EQ(roi.y2, 40);
  for (const char* bad : {"", "1,2,3", "1,2,3,4,5", "a,b,c,d", "-1,0,3,4", "1, 2,3,4"}) {
    EXPECT_THROW(parse_roi(bad), HttpError) << bad;
  }
}

}  // namespace
}  // namespace fedsign::serve::testing
