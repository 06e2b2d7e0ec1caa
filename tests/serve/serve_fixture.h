// Shared set-up for the serve tests: a tiny compact model (seeded random weights) saved as a
// run directory, generated sign images, and a service on 127.0.0.1 at a free port.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "fedsign/serve/service.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::serve::testing {

// run_dir/model.pt + model.json of a compact 43-class 32 px model initialised with `seed`.
void write_model(const std::filesystem::path& run_dir, std::uint64_t seed);

std::string read_bytes(const std::filesystem::path& file);

class ServeTest : public ::testing::Test {
 protected:
  void SetUp() override;
  // Starts the service on the model in run_dir() with `options` (port forced to 0).
  void start(ServeOptions options = test_options());
  static ServeOptions test_options();
  httplib::Client client() const;
  std::filesystem::path run_dir() const { return tmp_ / "run"; }

  fedsign::testing::TempDir tmp_;
  std::vector<std::filesystem::path> images_;  // PNG sign images of the generated dataset
  std::unique_ptr<InferenceService> service_;
};

}  // namespace fedsign::serve::testing
