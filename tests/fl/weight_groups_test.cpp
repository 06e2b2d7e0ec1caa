// The file format of server checkpoints and client states: exact round trip of every stored
// dtype, one-line errors for truncated, corrupt and foreign files, and the earlier pickled
// format still read (runs written before can resume).
#include "fedsign/fl/weight_groups.h"

#include <gtest/gtest.h>

#include "tests/testing/errors.h"
#include <torch/serialize.h>
#include <torch/torch.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "fedsign/core/check.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::fl {
namespace {

namespace fs = std::filesystem;

std::string error_of(const fs::path& file) {
  return fedsign::testing::error_of([&] { load_weight_groups(file); });
}

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const fs::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary) << bytes;
}

Weights sample_weights() {
  torch::manual_seed(3);
  Weights w;
  w.names = {"conv.weight", "bn.num_batches_tracked", "half", "flags", "empty", "strided"};
  w.tensors = {torch::randn({4, 3, 3, 3}), torch::tensor(int64_t{41}),
               torch::randn({5}).to(torch::kBFloat16), torch::tensor({true, false, true}),
               torch::zeros({0, 7}), torch::randn({6, 4}).t()};  // non-contiguous on purpose
  return w;
}

TEST(WeightGroups, RoundTripIsExactForEveryDtype) {
  testing::TempDir tmp;
  const Weights a = sample_weights();
  const Weights b{{"c"}, {torch::arange(10, torch::kFloat64)}};
  save_weight_groups(tmp / "f.pt", R"({"round": 7, "name": "x"})", {{"global", &a}, {"strategy/m", &b}});
  const auto [meta, groups] = load_weight_groups(tmp / "f.pt");
  EXPECT_EQ(nlohmann::json::parse(meta), nlohmann::json::parse(R"({"round": 7, "name": "x"})"));
  ASSERT_EQ(groups.size(), 2u);
  const Weights& ra = groups.at("global");
  ASSERT_EQ(ra.names, a.names);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(ra.tensors[i].scalar_type(), a.tensors[i].scalar_type()) << a.names[i];
    EXPECT_TRUE(torch::equal(ra.tensors[i], a.tensors[i])) << a.names[i];
  }
  EXPECT_TRUE(torch::equal(groups.at("strategy/m").tensors[0], b.tensors[0]));
}

TEST(WeightGroups, TruncatedCorruptAndForeignFilesAreRefusedByName) {
  testing::TempDir tmp;
  const Weights a = sample_weights();
  save_weight_groups(tmp / "f.pt", "{}", {{"global", &a}});
  const std::string bytes = read_bytes(tmp / "f.pt");

  write_bytes(tmp / "cut.pt", bytes.substr(0, bytes.size() - 5));
  EXPECT_NE(error_of(tmp / "cut.pt").find("cut.pt: truncated"), std::string::npos)
      << error_of(tmp / "cut.pt");
  write_bytes(tmp / "cut_header.pt", bytes.substr(0, 40));
  EXPECT_NE(error_of(tmp / "cut_header.pt").find("truncated"), std::string::npos);
  write_bytes(tmp / "short.pt", bytes.substr(0, 3));
  EXPECT_NE(error_of(tmp / "short.pt").find("truncated"), std::string::npos);

  std::string flipped = bytes;
  flipped[bytes.size() - 50] ^= 0x10;  // one bit of one weight
  write_bytes(tmp / "flipped.pt", flipped);
  EXPECT_NE(error_of(tmp / "flipped.pt").find("flipped.pt: corrupt (checksum mismatch)"),
            std::string::npos)
      << error_of(tmp / "flipped.pt");

  write_bytes(tmp / "long.pt", bytes + "xyz");
  EXPECT_NE(error_of(tmp / "long.pt").find("corrupt"), std::string::npos);
  write_bytes(tmp / "text.pt", "hello, this is not a checkpoint");
  EXPECT_NE(error_of(tmp / "text.pt").find("not a fedsign"), std::string::npos);
  EXPECT_NE(error_of(tmp / "missing.pt").find("missing.pt: no such file"), std::string::npos);
}

TEST(WeightGroups, ReadsTheEarlierPickledFormat) {
  testing::TempDir tmp;
  // Written as fedsign did before format 2: Dict{"0/0": tensor, "meta": JSON bytes}.
  c10::Dict<std::string, torch::Tensor> dict;
  dict.insert("0/0", torch::tensor({1.5f, -2.0f}));
  const std::string meta =
      R"({"format":"fedsign-weight-groups-1","meta":{"round":3},"groups":[{"key":"global","names":["w"]}]})";
  dict.insert("meta", torch::from_blob(const_cast<char*>(meta.data()),
                                       {static_cast<int64_t>(meta.size())}, torch::kUInt8)
                          .clone());
  const std::vector<char> bytes = torch::pickle_save(dict);
  write_bytes(tmp / "old.pt", std::string(bytes.begin(), bytes.end()));
  const auto [m, groups] = load_weight_groups(tmp / "old.pt");
  EXPECT_EQ(nlohmann::json::parse(m).at("round"), 3);
  EXPECT_TRUE(torch::equal(groups.at("global").tensors[0], torch::tensor({1.5f, -2.0f})));
}

}  // namespace
}  // namespace fedsign::fl
