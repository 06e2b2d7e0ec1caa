// save_weights/load_weights round trips and errors, head reset, freezing by layer group.
#include "fedsign/models/weights.h"

#include <gtest/gtest.h>

#include "tests/testing/errors.h"
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "fedsign/core/check.h"
#include "fedsign/models/registry.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::models {
namespace {

namespace fs = std::filesystem;
using fedsign::testing::TempDir;

using fedsign::testing::error_of;

torch::Tensor batch() {
  torch::manual_seed(7);
  return torch::randn({3, 3, 32, 32});
}

torch::Tensor eval_logits(Classifier& model) {
  torch::NoGradGuard no_grad;
  model.eval();
  return model.forward(batch());
}

// Gives BN buffers non-default values, so a round trip that dropped buffers would show.
void perturb_buffers(Classifier& model) {
  torch::NoGradGuard no_grad;
  for (auto& buffer : model.buffers()) {
    if (buffer.is_floating_point())
      buffer.uniform_(0.5, 1.5);
    else
      buffer.fill_(17);
  }
}

TEST(Weights, RoundTripGivesIdenticalLogits) {
  TempDir dir;
  for (const std::string name : {"compact", "keras_cnn", "mobilenet_v3_small", "resnet18"}) {
    SCOPED_TRACE(name);
    auto saved = create_model(name);
    perturb_buffers(*saved);
    save_weights(*saved, dir / "model.pt");
    torch::manual_seed(123);  // a differently initialized model
    auto loaded = create_model(name);
    ASSERT_FALSE(torch::equal(eval_logits(*saved), eval_logits(*loaded)));
    load_weights(*loaded, dir / "model.pt");
    EXPECT_TRUE(torch::equal(eval_logits(*saved), eval_logits(*loaded)));
    const auto saved_buffers = saved->named_buffers();
    for (const auto& item : loaded->named_buffers()) {
      EXPECT_TRUE(torch::equal(item.value(), saved_buffers[item.key()])) << item.key();
    }
  }
}

TEST(Weights, LoadKeepsRequiresGradAndTrains) {
  TempDir dir;
  auto saved = create_model("compact");
  perturb_buffers(*saved);
  save_weights(*saved, dir / "model.pt");
  torch::manual_seed(99);  // another initialization, so a load that copied nothing would show
  auto model = create_model("compact");
  load_weights(*model, dir / "model.pt");
  const auto saved_parameters = saved->named_parameters();
  for (const auto& item : model->named_parameters()) {
    EXPECT_TRUE(item.value().requires_grad()) << item.key();
    EXPECT_TRUE(torch::equal(item.value(), saved_parameters[item.key()])) << item.key();
  }
  const auto saved_buffers = saved->named_buffers();
  for (const auto& item : model->named_buffers()) {
    EXPECT_TRUE(torch::equal(item.value(), saved_buffers[item.key()])) << item.key();
  }
  // It still trains: one SGD step moves the loaded parameters.
  const auto before = model->named_parameters()["head.weight"].clone();
  torch::optim::SGD sgd(model->parameters(), 0.1);
  model->train();
  model->forward(batch()).sum().backward();
  sgd.step();
  EXPECT_FALSE(torch::equal(before, model->named_parameters()["head.weight"]));
  // The atomic write left no temporary file behind.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(Weights, MissingFile) {
  TempDir dir;
  auto model = create_model("compact");
  const auto message = error_of([&] { load_weights(*model, dir / "absent.pt"); });
  EXPECT_NE(message.find("absent.pt: no such weights file"), std::string::npos) << message;
}

TEST(Weights, TruncatedFile) {
  TempDir dir;
  auto model = create_model("compact");
  const fs::path file = dir / "model.pt";
  save_weights(*model, file);
  fs::resize_file(file, fs::file_size(file) / 2);
  const auto message = error_of([&] { load_weights(*model, file); });
  EXPECT_NE(message.find("model.pt: truncated or not a fedsign/torch weights file"),
            std::string::npos)
      << message;
}

TEST(Weights, GarbageFile) {
  TempDir dir;
  const fs::path file = dir / "model.pt";
  std::ofstream(file) << "not a weights file";
  auto model = create_model("compact");
  const auto message = error_of([&] { load_weights(*model, file); });
  EXPECT_NE(message.find("truncated or not a fedsign/torch weights file"), std::string::npos)
      << message;
}

TEST(Weights, MissingTensor) {
  TempDir dir;
  auto model = create_model("mobilenet_v3_small");
  c10::Dict<std::string, torch::Tensor> state;
  for (const auto& item : model->named_parameters()) {
    if (item.key() != "features.3.block.0.0.weight") state.insert(item.key(), item.value());
  }
  for (const auto& item : model->named_buffers()) state.insert(item.key(), item.value());
  const auto bytes = torch::pickle_save(state);
  std::ofstream(dir / "model.pt", std::ios::binary).write(bytes.data(), bytes.size());
  const auto message = error_of([&] { load_weights(*model, dir / "model.pt"); });
  EXPECT_NE(message.find("model.pt: missing tensor 'features.3.block.0.0.weight'"),
            std::string::npos)
      << message;
  // Not strict: the rest loads into a differently initialized model, the missing tensor stays.
  torch::manual_seed(5);
  auto other = create_model("mobilenet_v3_small");
  const auto kept = other->named_parameters()["features.3.block.0.0.weight"].clone();
  ASSERT_FALSE(torch::equal(kept, model->named_parameters()["features.3.block.0.0.weight"]));
  load_weights(*other, dir / "model.pt", {.strict = false});
  const auto source = model->named_parameters();
  for (const auto& item : other->named_parameters()) {
    if (item.key() == "features.3.block.0.0.weight") {
      EXPECT_TRUE(torch::equal(item.value(), kept));
    } else {
      EXPECT_TRUE(torch::equal(item.value(), source[item.key()])) << item.key();
    }
  }
}

TEST(Weights, ShapeMismatchNamesTensorAndShapes) {
  TempDir dir;
  // keras_cnn built for 48 px has a bigger dense1: a body tensor, so never skipped.
  save_weights(*create_model("keras_cnn", {.input_size = 48}), dir / "model.pt");
  auto model = create_model("keras_cnn", {.input_size = 32});
  const auto before = eval_logits(*model);
  const auto message = error_of([&] { load_weights(*model, dir / "model.pt"); });
  EXPECT_NE(message.find("tensor 'dense1.weight' has shape [128, 3200] in the file but "
                         "[128, 1152] in the model"),
            std::string::npos)
      << message;
  // Validation happens before copying: the model is untouched.
  EXPECT_TRUE(torch::equal(before, eval_logits(*model)));
}

TEST(Weights, HeadOfAnotherShapeIsSkipped) {
  TempDir dir;
  auto imagenet = create_model("mobilenet_v3_small", {.num_classes = 1000});
  perturb_buffers(*imagenet);
  save_weights(*imagenet, dir / "imagenet.pt");
  auto model = create_model("mobilenet_v3_small", {.num_classes = 43});
  const auto fresh_head = model->named_parameters()["classifier.3.weight"].clone();
  load_weights(*model, dir / "imagenet.pt");
  const auto loaded = model->named_parameters();
  const auto source = imagenet->named_parameters();
  EXPECT_TRUE(torch::equal(loaded["features.0.0.weight"], source["features.0.0.weight"]));
  EXPECT_TRUE(torch::equal(loaded["classifier.0.weight"], source["classifier.0.weight"]));
  EXPECT_TRUE(torch::equal(loaded["classifier.3.weight"], fresh_head));
  EXPECT_TRUE(torch::equal(model->named_buffers()["features.0.1.running_var"],
                           imagenet->named_buffers()["features.0.1.running_var"]));
  // Without skip_head_mismatch it is an error naming the head tensor.
  const auto message =
      error_of([&] { load_weights(*model, dir / "imagenet.pt", {.skip_head_mismatch = false}); });
  EXPECT_NE(message.find("'classifier.3.weight' has shape [1000, 1024] in the file but "
                         "[43, 1024] in the model"),
            std::string::npos)
      << message;
}

TEST(Weights, OtherModelsFileIsRejected) {
  TempDir dir;
  save_weights(*create_model("compact"), dir / "compact.pt");
  auto model = create_model("resnet18");
  const auto message = error_of([&] { load_weights(*model, dir / "compact.pt"); });
  EXPECT_NE(message.find("missing tensor 'conv1.weight'"), std::string::npos) << message;
}

TEST(HeadReset, ChangesOutputSizeAndKeepsBody) {
  for (const auto& name : model_names()) {
    if (name == "resnet50" || name == "mobilenet_v3_large") continue;  // same code paths
    SCOPED_TRACE(name);
    auto model = create_model(name, {.num_classes = 43});
    std::map<std::string, torch::Tensor> before;
    for (const auto& item : model->named_parameters()) before[item.key()] = item.value().clone();
    const auto embedding = [&] {
      torch::NoGradGuard no_grad;
      model->eval();
      return model->embed(batch());
    };
    const auto embedding_before = embedding();
    model->reset_head(7);
    EXPECT_EQ(model->num_classes(), 7);
    EXPECT_EQ(eval_logits(*model).sizes(), (std::vector<int64_t>{3, 7}));
    EXPECT_TRUE(torch::equal(embedding(), embedding_before));
    size_t changed = 0;
    for (const auto& item : model->named_parameters()) {
      ASSERT_TRUE(before.count(item.key())) << "new parameter name " << item.key();
      const auto& old = before[item.key()];
      if (old.sizes() != item.value().sizes()) {
        ++changed;
        EXPECT_EQ(model->group_of(item.key()), "head") << item.key();
      } else if (model->group_of(item.key()) != "head") {
        EXPECT_TRUE(torch::equal(old, item.value())) << item.key();
      }
      EXPECT_TRUE(item.value().requires_grad()) << item.key();
    }
    EXPECT_EQ(changed, 2u);  // output weight and bias
    EXPECT_EQ(model->named_parameters().size(), before.size());
  }
}

TEST(HeadReset, MobileNetKeepsClassifierHiddenLayer) {
  auto model = create_model("mobilenet_v3_small", {.num_classes = 1000});
  const auto hidden = model->named_parameters()["classifier.0.weight"].clone();
  model->reset_head(43);
  EXPECT_TRUE(torch::equal(model->named_parameters()["classifier.0.weight"], hidden));
  EXPECT_EQ(model->named_parameters()["classifier.3.weight"].sizes(),
            (std::vector<int64_t>{43, 1024}));
}

std::set<std::string> trainable_groups_of(const Classifier& model) {
  std::set<std::string> groups;
  for (const auto& item : model.named_parameters()) {
    if (item.value().requires_grad()) groups.insert(model.group_of(item.key()));
  }
  return groups;
}

TEST(Freeze, EveryParameterHasAGroupAndEveryGroupParameters) {
  for (const auto& name : model_names()) {
    SCOPED_TRACE(name);
    auto model = create_model(name);
    const auto groups = model->layer_groups();
    std::set<std::string> seen;
    for (const auto& item : model->named_parameters()) {
      const auto group = model->group_of(item.key());
      EXPECT_NE(std::find(groups.begin(), groups.end(), group), groups.end()) << item.key();
      seen.insert(group);
    }
    EXPECT_EQ(seen.size(), groups.size());
    EXPECT_EQ(groups.back(), "head");
    EXPECT_THROW(model->group_of("nonsense.weight"), Error);
  }
}

TEST(Freeze, Groups) {
  EXPECT_EQ(create_model("compact")->layer_groups(),
            (std::vector<std::string>{"stage1", "stage2", "stage3", "stage4", "head"}));
  EXPECT_EQ(create_model("keras_cnn")->layer_groups(),
            (std::vector<std::string>{"conv", "dense", "head"}));
  EXPECT_EQ(create_model("resnet18")->layer_groups(),
            (std::vector<std::string>{"stem", "layer1", "layer2", "layer3", "layer4", "head"}));
  const auto small = create_model("mobilenet_v3_small")->layer_groups();
  ASSERT_EQ(small.size(), 14u);  // stem, block1..block11, last_conv, head
  EXPECT_EQ(small[1], "block1");
  EXPECT_EQ(small[11], "block11");
  EXPECT_EQ(small[12], "last_conv");
  const auto model = create_model("mobilenet_v3_large");
  EXPECT_EQ(model->layer_groups().size(), 18u);
  EXPECT_EQ(model->group_of("features.0.0.weight"), "stem");
  EXPECT_EQ(model->group_of("features.4.block.2.fc1.weight"), "block4");
  EXPECT_EQ(model->group_of("features.16.1.running_mean"), "last_conv");
  EXPECT_EQ(model->group_of("classifier.0.weight"), "head");
}

TEST(Freeze, HeadOnly) {
  for (const auto& name : model_names()) {
    SCOPED_TRACE(name);
    auto model = create_model(name);
    set_trainable_groups(*model, {"head"});
    EXPECT_EQ(trainable_groups_of(*model), (std::set<std::string>{"head"}));
    for (const auto& item : model->named_parameters()) {
      EXPECT_EQ(item.value().requires_grad(), model->group_of(item.key()) == "head");
    }
    set_trainable_groups(*model, {"all"});
    EXPECT_EQ(count_parameters(*model, true), count_parameters(*model));
  }
}

TEST(Freeze, LastGroups) {
  auto resnet = create_model("resnet18");
  EXPECT_EQ(last_groups(*resnet, 2), (std::vector<std::string>{"layer4", "head"}));
  EXPECT_EQ(last_groups(*resnet, 0), std::vector<std::string>{});
  EXPECT_EQ(last_groups(*resnet, 100), resnet->layer_groups());
  set_trainable_groups(*resnet, last_groups(*resnet, 2));
  EXPECT_EQ(trainable_groups_of(*resnet), (std::set<std::string>{"layer4", "head"}));
  EXPECT_EQ(count_parameters(*resnet, true), 8'393'728 + 512 * 43 + 43);

  auto mobilenet = create_model("mobilenet_v3_small");
  EXPECT_EQ(last_groups(*mobilenet, 2), (std::vector<std::string>{"last_conv", "head"}));
  set_trainable_groups(*mobilenet, last_groups(*mobilenet, 3));
  EXPECT_EQ(trainable_groups_of(*mobilenet),
            (std::set<std::string>{"block11", "last_conv", "head"}));
}

TEST(Freeze, FrozenParametersGetNoGradient) {
  auto model = create_model("compact");
  set_trainable_groups(*model, {"stage4", "head"});
  model->train();
  model->forward(batch()).sum().backward();
  for (const auto& item : model->named_parameters()) {
    const bool trainable = item.value().requires_grad();
    EXPECT_EQ(item.value().grad().defined(), trainable) << item.key();
  }
}

TEST(Freeze, BatchNormGroupTrainsScaleAndShiftWithFrozenStatistics) {
  auto model = create_model("compact");
  const std::vector<std::string> groups = {kBatchNormGroup, "head"};
  set_trainable_groups(*model, groups);
  int64_t trainable = 0;
  const auto parameters = model->named_parameters();
  const std::vector<bool> mask = trainable_mask(*model, parameters.keys(), groups);
  for (std::size_t i = 0; i < parameters.size(); ++i) {
    const auto& item = parameters[i];
    const bool bn_or_head = item.value().dim() == 1 || item.key().rfind("head.", 0) == 0;
    EXPECT_EQ(item.value().requires_grad(), bn_or_head) << item.key();
    EXPECT_EQ(mask[i], bn_or_head) << item.key();
    trainable += bn_or_head ? item.value().numel() : 0;
  }
  EXPECT_EQ(count_parameters(*model, true), trainable);
  EXPECT_EQ(trainable, 2 * (32 + 32 + 64 + 64 + 128 + 128 + 256) + 256 * 43 + 43);
  EXPECT_EQ(trainable_mask(*model, {"stage1.1.running_mean", "stage1.1.weight"}, groups),
            (std::vector<bool>{false, true}));
  EXPECT_EQ(trainable_mask(*model, {"stage1.1.running_mean"}, {"stage1"}), std::vector<bool>{true});

  // In training, every BatchNorm layer normalizes with its frozen statistics (eval mode) and
  // leaves them as they were; with stage4 trained, its own layer runs in training mode.
  model->train();
  EXPECT_EQ(hold_frozen_statistics(*model, groups), 7);
  const auto before = model->named_buffers()["stage2.1.running_mean"].clone();
  model->forward(batch()).sum().backward();
  EXPECT_TRUE(torch::equal(model->named_buffers()["stage2.1.running_mean"], before));
  EXPECT_TRUE(model->named_parameters()["stage2.1.weight"].grad().defined());
  EXPECT_FALSE(model->named_parameters()["stage2.0.weight"].grad().defined());
  model->train();
  EXPECT_EQ(hold_frozen_statistics(*model, {"stage4", "head"}), 6);
  EXPECT_EQ(hold_frozen_statistics(*model, {"all"}), 0);

  auto plain = create_model("keras_cnn");
  EXPECT_NE(error_of([&] { set_trainable_groups(*plain, groups); }).find("no BatchNorm layers"),
            std::string::npos);
}

TEST(Freeze, UnknownGroupThrows) {
  auto model = create_model("compact");
  const auto message = error_of([&] { set_trainable_groups(*model, {"layer4"}); });
  EXPECT_NE(message.find("unknown layer group 'layer4' (valid: all, stage1"), std::string::npos)
      << message;
  EXPECT_NE(message.find("head, batchnorm)"), std::string::npos) << message;
  EXPECT_THROW(last_groups(*model, -1), Error);
}

}  // namespace
}  // namespace fedsign::models
