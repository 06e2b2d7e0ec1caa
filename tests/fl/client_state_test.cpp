// A device's own state file (fl/client/client_state.h, the network client's --state-file): it
// returns the state only to the run and client it was saved for, and a damaged file is an error
// naming it, not a silent zero state.
#include "fedsign/fl/client/client_state.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fedsign/core/check.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::fl {
namespace {

ClientState scaffold_and_fedbn_state() {
  ClientState s;
  s.control = Weights{{"w"}, {torch::tensor({1.0f, -2.0f})}};
  s.local_bn = Weights{{"bn.running_mean"}, {torch::tensor({0.5f})}};
  return s;
}

TEST(ClientStateFile, ReturnsTheStateOnlyToItsRunAndClient) {
  testing::TempDir tmp;
  const auto file = tmp / "device.state";
  EXPECT_FALSE(load_client_state_file(file, {"run-a", 3}).has_value()) << "no file yet";
  save_client_state_file(file, scaffold_and_fedbn_state(), {"run-a", 3});
  const auto loaded = load_client_state_file(file, {"run-a", 3});
  ASSERT_TRUE(loaded.has_value());
  EXPECT_TRUE(torch::equal(loaded->control->tensors[0], torch::tensor({1.0f, -2.0f})));
  EXPECT_TRUE(torch::equal(loaded->local_bn->tensors[0], torch::tensor({0.5f})));
  EXPECT_FALSE(loaded->residual.has_value());
  EXPECT_FALSE(load_client_state_file(file, {"run-b", 3}).has_value()) << "another run";
  EXPECT_FALSE(load_client_state_file(file, {"run-a", 4}).has_value()) << "another client";
}

TEST(ClientStateFile, ATruncatedFileIsAnErrorNamingIt) {
  testing::TempDir tmp;
  const auto file = tmp / "device.state";
  save_client_state_file(file, scaffold_and_fedbn_state(), {"run-a", 3});
  std::filesystem::resize_file(file, std::filesystem::file_size(file) - 3);
  try {
    load_client_state_file(file, {"run-a", 3});
    FAIL() << "expected an error";
  } catch (const fedsign::Error& e) {
    EXPECT_NE(std::string(e.what()).find("device.state"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fedsign::fl
