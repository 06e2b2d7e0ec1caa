// Output shapes, embedding sizes, parameter counts and registry behaviour of every model.
#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "fedsign/core/check.h"
#include "fedsign/models/compact_stn.h"
#include "fedsign/models/keras_cnn.h"
#include "fedsign/models/registry.h"

namespace fedsign::models {
namespace {

torch::Tensor random_batch(int64_t n, int64_t side) {
  torch::manual_seed(1);
  return torch::randn({n, 3, side, side});
}

void expect_shapes(Classifier& model, int64_t side, int64_t num_classes) {
  SCOPED_TRACE(side);
  torch::NoGradGuard no_grad;
  const auto x = random_batch(2, side);
  model.eval();
  const auto logits = model.forward(x);
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{2, num_classes}));
  EXPECT_TRUE(torch::isfinite(logits).all().item<bool>());
  const auto map = model.feature_map(x);
  EXPECT_EQ(map.dim(), 4);
  EXPECT_EQ(map.size(0), 2);
  const auto embedding = model.embed(x);
  EXPECT_EQ(embedding.sizes(), (std::vector<int64_t>{2, model.embedding_dim()}));
  EXPECT_TRUE(torch::allclose(model.pool_features(map), embedding));
  EXPECT_TRUE(torch::allclose(model.classify(embedding), logits));
  EXPECT_EQ(model.num_classes(), num_classes);
}

TEST(ModelShapes, EveryModelAt32Px) {
  for (const auto& name : model_names()) {
    SCOPED_TRACE(name);
    auto model = create_model(name, {.num_classes = 43, .input_size = 32});
    expect_shapes(*model, 32, 43);
  }
}

TEST(ModelShapes, TrainModeForwardAndBackward) {
  for (const auto& name : model_names()) {
    SCOPED_TRACE(name);
    auto model = create_model(name, {.num_classes = 43, .input_size = 32});
    model->train();
    const auto loss = model->forward(random_batch(2, 32)).logsumexp(1).mean();
    loss.backward();
    for (const auto& p : model->parameters()) ASSERT_TRUE(p.grad().defined());
  }
}

TEST(ModelShapes, EmbeddingDims) {
  const std::map<std::string, int64_t> expected{{"compact", 256},
                                                {"compact_stn", 256},
                                                {"keras_cnn", 128},
                                                {"mobilenet_v3_small", 576},
                                                {"mobilenet_v3_large", 960},
                                                {"resnet18", 512},
                                                {"resnet50", 2048}};
  for (const auto& [name, dim] : expected) {
    EXPECT_EQ(create_model(name)->embedding_dim(), dim) << name;
  }
}

TEST(ModelShapes, CompactAt48Px) {
  auto model = create_model("compact", {.num_classes = 43, .input_size = 48});
  expect_shapes(*model, 48, 43);
  // GAP: the same model also takes 32 px.
  expect_shapes(*model, 32, 43);
}

TEST(ModelShapes, KerasCnnSizesItsFlattenFromInputSize) {
  auto model = create_model("keras_cnn", {.num_classes = 10, .input_size = 48});
  expect_shapes(*model, 48, 10);
  EXPECT_EQ(KerasCnnImpl::pooled_side(32), 6);
  EXPECT_EQ(KerasCnnImpl::pooled_side(48), 10);
  // Built for 48 px, fed 32 px: a clear error instead of a matmul shape mismatch.
  EXPECT_THROW(model->forward(random_batch(1, 32)), Error);
}

TEST(ModelShapes, ImageNetModelsAt64Px) {
  for (const std::string name : {"mobilenet_v3_small", "resnet18"}) {
    SCOPED_TRACE(name);
    auto model = create_model(name, {.num_classes = 43, .input_size = 64});
    expect_shapes(*model, 64, 43);
  }
}

TEST(ModelShapes, CompactChannelsLast) {
  auto model = create_model("compact");
  model->eval();
  torch::NoGradGuard no_grad;
  const auto x = random_batch(4, 32);
  const auto expected = model->forward(x);
  // LibTorch's Module::to has no memory-format overload: convert the 4-d weights in place.
  for (auto& p : model->parameters()) {
    if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
  }
  const auto got = model->forward(x.contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_EQ(got.sizes(), expected.sizes());
  EXPECT_TRUE(torch::allclose(got, expected, 1e-4, 1e-5));
}

TEST(ModelShapes, CompactBf16Autocast) {
  auto model = create_model("compact");
  model->eval();
  torch::NoGradGuard no_grad;
  const auto x = random_batch(4, 32);
  const auto expected = model->forward(x);
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  at::autocast::set_cpu_enabled(true);
  torch::Tensor got;
  try {
    got = model->forward(x.contiguous(torch::MemoryFormat::ChannelsLast));
  } catch (...) {
    at::autocast::set_cpu_enabled(false);
    throw;
  }
  at::autocast::set_cpu_enabled(false);
  at::autocast::clear_cache();
  EXPECT_EQ(got.sizes(), expected.sizes());
  EXPECT_TRUE(torch::allclose(got.to(torch::kFloat), expected, 0.1, 0.1));
}

TEST(ModelNames, ListsEveryModel) {
  EXPECT_EQ(model_names(),
            (std::vector<std::string>{"compact", "compact_stn", "keras_cnn", "mobilenet_v3_small",
                                      "mobilenet_v3_large", "resnet18", "resnet50"}));
  for (const auto& name : model_names()) EXPECT_FALSE(describe_model(name).empty()) << name;
}

TEST(ModelNames, UnknownNameListsValidNames) {
  try {
    create_model("mobilenet_v4");
    FAIL() << "expected fedsign::Error";
  } catch (const Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("unknown model 'mobilenet_v4'"), std::string::npos) << message;
    EXPECT_NE(message.find("compact, compact_stn, keras_cnn, mobilenet_v3_small"), std::string::npos)
        << message;
  }
  EXPECT_THROW(describe_model("nope"), Error);
}

TEST(ModelNames, InvalidOptionsThrow) {
  EXPECT_THROW(create_model("compact", {.num_classes = 0}), Error);
  EXPECT_THROW(create_model("keras_cnn", {.input_size = 8}), Error);
  EXPECT_THROW(create_model("compact", {.dropout = 1.5}), Error);
}

TEST(ModelNames, DropoutOption) {
  // dropout 0: train mode is deterministic for the dropout-only models without BN.
  auto model = create_model("keras_cnn", {.dropout = 0.0});
  model->train();
  const auto x = random_batch(2, 32);
  EXPECT_TRUE(torch::equal(model->forward(x), model->forward(x)));
  auto with_dropout = create_model("keras_cnn", {.dropout = 0.9});
  with_dropout->train();
  EXPECT_FALSE(torch::equal(with_dropout->forward(x), with_dropout->forward(x)));
}

TEST(ModelParameters, Counts) {
  // torchvision 0.14 counts (sum of p.numel() over model.parameters(), 1000 classes).
  EXPECT_EQ(count_parameters(*create_model("resnet18", {.num_classes = 1000})), 11'689'512);
  EXPECT_EQ(count_parameters(*create_model("resnet50", {.num_classes = 1000})), 25'557'032);
  EXPECT_EQ(count_parameters(*create_model("mobilenet_v3_small", {.num_classes = 1000})),
            2'542'856);
  EXPECT_EQ(count_parameters(*create_model("mobilenet_v3_large", {.num_classes = 1000})),
            5'483'032);
  // keras_cnn at 32 px, 43 classes: conv1 3*32*9+32 = 896, conv2 32*32*9+32 = 9,248,
  // dense1 1152*128+128 = 147,584, dense2 128*128+128 = 16,512, head 128*43+43 = 5,547.
  EXPECT_EQ(count_parameters(*create_model("keras_cnn", {.num_classes = 43, .input_size = 32})),
            179'787);
  const int64_t compact = count_parameters(*create_model("compact"));
  EXPECT_LE(compact, 1'000'000);
  EXPECT_EQ(compact, 593'931);
  // compact_stn adds its localization net: convs 3*16*25 = 1,200, 16*32*9 = 4,608,
  // 32*64*9 = 18,432, BatchNorm 2*(16+32+64) = 224, regression 64*6+6 = 390.
  EXPECT_EQ(count_parameters(*create_model("compact_stn")), compact + 24'854);
}

TEST(CompactStn, StartsAsTheIdentityAndLearnsItsTransform) {
  torch::manual_seed(3);
  auto model = create_model("compact_stn");
  auto* stn = dynamic_cast<CompactStnImpl*>(model.get());
  ASSERT_NE(stn, nullptr);
  model->eval();
  const auto x = random_batch(3, 32);
  const auto identity = torch::tensor({1.0f, 0.0f, 0.0f, 0.0f, 1.0f, 0.0f}).view({1, 2, 3});
  EXPECT_TRUE(torch::allclose(stn->theta(x), identity.expand({3, 2, 3})));
  // Bilinear resampling at the pixel centres through the identity returns the input.
  EXPECT_TRUE(torch::allclose(stn->transform(x), x, 1e-5, 1e-5));
  // So the classifier behind it computes what compact computes with the same weights.
  auto plain = create_model("compact");
  plain->eval();
  {
    torch::NoGradGuard no_grad;
    auto from = model->named_parameters();
    for (auto& p : plain->named_parameters()) p.value().copy_(from[p.key()]);
    auto from_buffers = model->named_buffers();
    for (auto& b : plain->named_buffers()) b.value().copy_(from_buffers[b.key()]);
  }
  EXPECT_TRUE(torch::allclose(model->forward(x), plain->forward(x), 1e-4, 1e-4));

  // A training step moves the transform away from the identity: the regression gets gradient.
  model->train();
  const auto loss = torch::nn::functional::cross_entropy(model->forward(x), torch::tensor({1, 2, 3}));
  loss.backward();
  EXPECT_GT(stn->localization_head->weight.grad().abs().sum().item<double>(), 0.0);
  EXPECT_EQ(model->group_of("localization.0.weight"), "localization");
  EXPECT_EQ(model->group_of("localization_head.bias"), "localization");
  EXPECT_EQ(model->group_of("stage2.0.weight"), "stage2");
  EXPECT_EQ(model->layer_groups().front(), "localization");
}

}  // namespace
}  // namespace fedsign::models
