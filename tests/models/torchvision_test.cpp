// The torchvision ports against torchvision itself: state-dict names and shapes against the
// committed key lists in fixtures/ (see fixtures/README.md), and - when Debian's python3-torch
// and python3-torchvision are installed - logits against torchvision's for the same weights.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fedsign/models/layers.h"
#include "fedsign/models/registry.h"
#include "fedsign/models/weights.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::models {
namespace {

namespace fs = std::filesystem;
using fedsign::testing::TempDir;

const fs::path kSourceDir = FEDSIGN_SOURCE_DIR;
const char* const kPython = "/usr/bin/python3";

std::vector<std::string> fixture_keys(const std::string& model) {
  const fs::path file = kSourceDir / "tests" / "models" / "fixtures" / (model + "_keys.txt");
  std::ifstream in(file);
  EXPECT_TRUE(in.good()) << "cannot read " << file;
  std::vector<std::string> keys;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') keys.push_back(line);
  }
  return keys;
}

std::vector<std::string> model_keys(const Classifier& model) {
  std::vector<std::string> keys;
  for (const auto& item : model.named_parameters()) {
    keys.push_back(item.key() + " " + shape_string(item.value().sizes()));
  }
  for (const auto& item : model.named_buffers()) {
    keys.push_back(item.key() + " " + shape_string(item.value().sizes()));
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

std::string difference(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::vector<std::string> only;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(only));
  std::string text;
  for (size_t i = 0; i < std::min<size_t>(only.size(), 10); ++i) text += "\n  " + only[i];
  return text;
}

TEST(TorchvisionLayout, StateDictKeysAndShapesMatchTorchvision) {
  for (const std::string name :
       {"mobilenet_v3_small", "mobilenet_v3_large", "resnet18", "resnet50"}) {
    SCOPED_TRACE(name);
    const auto expected = fixture_keys(name);
    ASSERT_GT(expected.size(), 100u);
    const auto actual = model_keys(*create_model(name, {.num_classes = 1000}));
    EXPECT_EQ(actual, expected) << "only in fedsign:" << difference(actual, expected)
                                << "\nonly in torchvision:" << difference(expected, actual);
  }
}

bool torchvision_available() {
  static const bool available =
      std::system((std::string(kPython) + " -c 'import torchvision' >/dev/null 2>&1").c_str()) == 0;
  return available;
}

void run(const std::string& command) { ASSERT_EQ(std::system(command.c_str()), 0) << command; }

torch::Dict<torch::IValue, torch::IValue> read_pickle(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  return torch::pickle_load(bytes).toGenericDict();
}

// torchvision (random init, randomized BN statistics) -> export -> load_weights -> same logits.
TEST(TorchvisionReference, LogitsMatchTorchvision) {
  if (!torchvision_available()) GTEST_SKIP() << kPython << " has no torchvision";
  TempDir dir;
  for (const std::string name : {"mobilenet_v3_small", "resnet18"}) {
    SCOPED_TRACE(name);
    const fs::path weights = dir / (name + ".pt");
    const fs::path reference = dir / (name + "_ref.pt");
    run(fmt::format("{} {} --model {} --random-seed 3 --randomize-bn --out {} --reference-out {}",
                    kPython, (kSourceDir / "scripts" / "export_torchvision.py").string(), name,
                    weights.string(), reference.string()));
    auto model = create_model(name, {.num_classes = 1000});
    load_weights(*model, weights);
    model->eval();
    const auto ref = read_pickle(reference);
    const auto input = ref.at("input").toTensor();
    const auto expected = ref.at("logits").toTensor();
    torch::NoGradGuard no_grad;
    const auto logits = model->forward(input);
    ASSERT_EQ(logits.sizes(), expected.sizes());
    EXPECT_LT((logits - expected).abs().max().item<double>(), 1e-4);
    // MobileNet's N(0, 0.01) output layer makes its logits tiny, so compare the embedding too:
    // it is O(1) and e.g. a BN eps of 1e-5 instead of 1e-3 moves it by ~1e-3.
    const auto expected_embedding = ref.at("embedding").toTensor();
    EXPECT_GT(expected_embedding.abs().max().item<double>(), 0.1);
    EXPECT_LT((model->embed(input) - expected_embedding).abs().max().item<double>(), 1e-4);
  }
}

// fedsign save_weights -> Python torch.load + load_state_dict(strict=True) -> same logits.
TEST(TorchvisionReference, PythonLoadsFedsignWeights) {
  if (!torchvision_available()) GTEST_SKIP() << kPython << " has no torchvision";
  TempDir dir;
  auto model = create_model("mobilenet_v3_small", {.num_classes = 43});
  {
    torch::NoGradGuard no_grad;
    for (auto& buffer : model->buffers()) {
      if (buffer.is_floating_point()) buffer.uniform_(0.5, 1.5);
    }
  }
  save_weights(*model, dir / "model.pt");
  torch::manual_seed(5);
  const auto input = torch::randn({2, 3, 32, 32});
  torch::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    model->eval();
    logits = model->forward(input);
  }
  // Two entries: LibTorch 1.13's unpickler lacks SETITEM, which Python uses for 1-entry dicts.
  c10::Dict<std::string, torch::Tensor> io;
  io.insert("input", input);
  io.insert("logits", logits);
  const auto bytes = torch::pickle_save(io);
  std::ofstream(dir / "input.pt", std::ios::binary).write(bytes.data(), bytes.size());
  std::ofstream(dir / "check.py") << R"(import sys, torch, torchvision
model = torchvision.models.mobilenet_v3_small(num_classes=43)
model.load_state_dict(torch.load(sys.argv[1]), strict=True)
model.eval()
with torch.no_grad():
    logits = model(torch.load(sys.argv[2])["input"])
torch.save({"logits": logits, "rows": len(logits)}, sys.argv[3])
)";
  run(fmt::format("{} {} {} {} {}", kPython, (dir / "check.py").string(),
                  (dir / "model.pt").string(), (dir / "input.pt").string(),
                  (dir / "out.pt").string()));
  const auto python_logits = read_pickle(dir / "out.pt").at("logits").toTensor();
  EXPECT_LT((logits - python_logits).abs().max().item<double>(), 1e-4);
}

}  // namespace
}  // namespace fedsign::models
