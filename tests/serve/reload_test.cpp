// Hot reload: the model file replaced (atomically, as the FL server does each round) while
// clients hammer the service: no request fails, versions only move forward, and after the swap
// the answers are the new model's. Also: a broken file is skipped, the old version serves on.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <thread>

#include "fedsign/train/predictor.h"
#include "tests/serve/serve_fixture.h"
#include "tests/testing/gtsrb_fixture.h"

namespace fedsign::serve::testing {
namespace {

bool wait_for_version(InferenceService& service, std::uint64_t version) {
  auto& store = service.models();
  for (int i = 0; i < 1000; ++i) {
    if (store.current()->version >= version) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

TEST_F(ServeTest, ReloadUnderConcurrentRequestsFailsNone) {
  start();
  const std::string png = read_bytes(images_[0]);
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, failed{0}, went_back{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&] {
      auto http = client();
      int last_version = 0;
      while (!stop) {
        const auto res = http.Post("/v1/classify", png, "image/png");
        if (!res || res->status != 200) {
          ++failed;
          continue;
        }
        const int version = nlohmann::json::parse(res->body)["model"]["version"];
        if (version < last_version) ++went_back;
        last_version = version;
        ++ok;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  write_model(run_dir(), 8);
  ASSERT_TRUE(wait_for_version(*service_, 2));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  write_model(run_dir(), 9);
  ASSERT_TRUE(wait_for_version(*service_, 3));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  stop = true;
  for (auto& c : clients) c.join();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(went_back, 0);
  EXPECT_GT(ok, 20);
  EXPECT_EQ(service_->models().reloads(), 2u);

  // The answers are now the third model's.
  const train::Predictor predictor(train::load_model_bundle(run_dir()), "fp32");
  std::vector<std::uint8_t> pixels(predictor.image_bytes());
  ASSERT_EQ(predictor.decode(images_[0], pixels.data()), "");
  const auto want = predictor.classify(pixels.data(), 1, 1)[0][0];
  const auto res = client().Post("/v1/classify?top_k=1", png, "image/png");
  ASSERT_TRUE(res);
  const auto got = nlohmann::json::parse(res->body);
  EXPECT_EQ(got["model"]["version"], 3);
  EXPECT_EQ(got["results"][0]["top"][0]["class"], want.class_id);
  EXPECT_NEAR(got["results"][0]["top"][0]["confidence"].get<double>(), want.confidence, 1e-5);
}

TEST_F(ServeTest, BrokenModelFileKeepsThePreviousVersion) {
  start();
  const auto checksum = service_->models().current()->checksum;
  fedsign::testing::write_text(run_dir() / "model.pt.tmp", "not a model");
  std::filesystem::rename(run_dir() / "model.pt.tmp", run_dir() / "model.pt");
  for (int i = 0; i < 400 && service_->models().reload_failures() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(service_->models().reload_failures(), 1u);
  EXPECT_EQ(service_->models().current()->version, 1u);
  EXPECT_EQ(service_->models().current()->checksum, checksum);
  const auto res = client().Post("/v1/classify", read_bytes(images_[0]), "image/png");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  // A good file afterwards is picked up.
  write_model(run_dir(), 11);
  for (int i = 0; i < 400 && service_->models().current()->version < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(service_->models().current()->version, 2u);
  EXPECT_NE(service_->models().current()->checksum, checksum);
}

}  // namespace
}  // namespace fedsign::serve::testing
