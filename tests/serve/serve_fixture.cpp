#include "tests/serve/serve_fixture.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <sstream>

#include "fedsign/models/registry.h"
#include "fedsign/models/weights.h"
#include "fedsign/train/model_bundle.h"
#include "tests/testing/gtsrb_fixture.h"

namespace fedsign::serve::testing {

void write_model(const std::filesystem::path& run_dir, std::uint64_t seed) {
  std::filesystem::create_directories(run_dir);
  torch::manual_seed(seed);
  auto model = models::create_model("compact", {.num_classes = 43});
  models::save_weights(*model, run_dir / "model.pt");  // atomic, as the FL server writes it
  if (!std::filesystem::exists(run_dir / "model.json")) {
    train::save_model_info(run_dir / "model.json", {"compact", 43, 32, "none"});
  }
}

std::string read_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void ServeTest::SetUp() {
  write_model(run_dir(), 7);
  images_ = fedsign::testing::write_kaggle_dataset(tmp_ / "data",
                                                   {.tracks_per_class = 1, .frames_per_track = 1})
                .train_images;
  ASSERT_GE(images_.size(), 8u);
}

ServeOptions ServeTest::test_options() {
  ServeOptions o;
  o.port = 0;
  o.precision = "fp32";  // the same numbers as `fedsign predict --precision fp32`
  o.http_threads = 16;
  o.batching.workers = 2;
  o.watch_ms = 50;
  return o;
}

void ServeTest::start(ServeOptions options) {
  options.port = 0;
  service_ = std::make_unique<InferenceService>(run_dir(), options);
  service_->start();
}

httplib::Client ServeTest::client() const {
  httplib::Client c("127.0.0.1", service_->port());
  c.set_read_timeout(std::chrono::seconds(20));
  return c;
}

}  // namespace fedsign::serve::testing
