// A checkpoint saved by Python as `torch.save(module.state_dict(), path)` (an OrderedDict, the
// form of torchvision's weight files) loads directly: the committed fixture was written by
// tests/models/fixtures/make_state_dict_fixture.py (python3-torch 1.13); its values are
// recomputed here.
#include "fedsign/models/python_state_dict.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

#include "fedsign/core/check.h"
#include "fedsign/models/registry.h"
#include "fedsign/models/weights.h"
#include "tests/testing/errors.h"

namespace fedsign::models {
namespace {

namespace fs = std::filesystem;

const fs::path kFixture =
    fs::path(FEDSIGN_SOURCE_DIR) / "tests/models/fixtures/compact_partial_state_dict.pt";

using fedsign::testing::error_of;

TEST(PythonStateDict, OrderedDictCheckpointLoadsWithItsValues) {
  ASSERT_TRUE(fs::exists(kFixture)) << kFixture;
  torch::manual_seed(3);
  auto model = create_model("compact");
  const auto untouched = model->named_parameters()["stage2.0.weight"].clone();
  // The fixture holds 7 of the model's tensors: the rest must stay as initialized.
  load_weights(*model, kFixture, {.strict = false});
  const auto params = model->named_parameters();
  const auto buffers = model->named_buffers();
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  EXPECT_TRUE(torch::equal(params["stage1.0.weight"],
                           torch::arange(864, f32).reshape({32, 3, 3, 3}) / 8));
  EXPECT_TRUE(torch::equal(params["stage1.1.weight"], torch::arange(32, f32) * 0.5));
  EXPECT_TRUE(torch::equal(params["stage1.1.bias"], torch::arange(32, 64, f32) * 0.5));
  EXPECT_TRUE(torch::equal(buffers["stage1.1.running_mean"], torch::arange(32, f32) * 1.5));
  EXPECT_TRUE(torch::equal(buffers["stage1.1.running_var"], torch::full({32}, 2.0, f32)));
  EXPECT_EQ(buffers["stage1.1.num_batches_tracked"].item<int64_t>(), 17);
  EXPECT_TRUE(torch::equal(params["head.bias"], -torch::arange(43, f32)));
  EXPECT_TRUE(torch::equal(params["stage2.0.weight"], untouched));

  // Strict: the first missing tensor is named (not "not a weights file").
  const auto message = error_of([&] { load_weights(*model, kFixture); });
  EXPECT_NE(message.find("missing tensor 'stage1.3.weight'"), std::string::npos) << message;
}

TEST(PythonStateDict, RewriteForLibtorch) {
  using namespace std::string_literals;
  const std::string proto = "\x80\x02"s;
  const std::string key_a = "X\x01\x00\x00\x00"s + "a", key_b = "X\x01\x00\x00\x00"s + "b";
  const std::string five = "K\x05"s, six = "K\x06"s;
  const std::string two_items = "(" + key_a + five + key_b + six + "u";  // MARK ... SETITEMS
  const std::string ordered_dict = "ccollections\nOrderedDict\n" + "q\x00"s;
  // OrderedDict() (class memoized in slot 0) -> an empty dict; its BUILD state is cut off.
  EXPECT_EQ(rewrite_for_libtorch(proto + ordered_dict + ")R" + "q\x01"s + two_items + "}b."),
            proto + "}" + "q\x01"s + two_items + ".");
  // The memoized class called again (as for tensors' backward hooks): an empty dict too.
  EXPECT_EQ(rewrite_for_libtorch(proto + ordered_dict + ")R" + "q\x01"s + "(" + key_a +
                                 "h\x00"s + ")R" + "u."),
            proto + "}" + "q\x01"s + "(" + key_a + "}" + "u.");
  // A plain dict with SETITEMS and BUILD: unchanged.
  const std::string plain = proto + "}" + "q\x00"s + two_items + "}b.";
  EXPECT_EQ(rewrite_for_libtorch(plain), plain);
  // SETITEM (a one-entry dict) -> a MARK before the key, then SETITEMS.
  EXPECT_EQ(rewrite_for_libtorch(proto + "}" + "q\x00"s + key_a + five + "s."),
            proto + "}" + "q\x00"s + "(" + key_a + five + "u.");
  // A string payload that looks like the opcodes is skipped, not rewritten.
  const std::string payload = proto + "X\x03\x00\x00\x00"s + ")Rs.";
  EXPECT_EQ(rewrite_for_libtorch(payload), payload);
  EXPECT_THROW(rewrite_for_libtorch(proto + "\xff."), Error);                       // unknown opcode
  EXPECT_THROW(rewrite_for_libtorch(proto + "X\x09\x00\x00\x00"s + "ab"), Error);  // truncated
  EXPECT_THROW(rewrite_for_libtorch(proto + "N0."), Error);  // POP: LibTorch cannot read it
}

}  // namespace
}  // namespace fedsign::models
