// Moving weights in and out of models: round trip, validation errors naming the tensor, the
// FedBN mask and element-wise arithmetic.
#include "fedsign/fl/weights.h"

#include <gtest/gtest.h>

#include "tests/testing/errors.h"
#include <torch/torch.h>

#include "fedsign/core/check.h"
#include "fedsign/models/registry.h"

namespace fedsign::fl {
namespace {

using fedsign::testing::error_of;

TEST(Weights, RoundTripThroughAModel) {
  torch::manual_seed(1);
  auto a = models::create_model("compact");
  torch::manual_seed(2);
  auto b = models::create_model("compact");
  const Weights wa = get_weights(*a);
  // Parameters then buffers, by state-dict name; BN's counter stays int64.
  EXPECT_EQ(wa.size(), a->parameters().size() + a->buffers().size());
  EXPECT_EQ(wa.names.front(), a->named_parameters().begin()->key());
  bool saw_counter = false;
  for (std::size_t i = 0; i < wa.size(); ++i) {
    if (wa.names[i].ends_with("num_batches_tracked")) {
      saw_counter = true;
      EXPECT_EQ(wa.tensors[i].scalar_type(), torch::kInt64);
    }
  }
  EXPECT_TRUE(saw_counter);
  EXPECT_FALSE(equal(wa, get_weights(*b)));
  set_weights(*b, wa);
  EXPECT_TRUE(equal(wa, get_weights(*b)));
  // get_weights copies: training the model later does not change them.
  {
    torch::NoGradGuard no_grad;
    a->parameters()[0].add_(1.0);
  }
  EXPECT_TRUE(equal(wa, get_weights(*b)));
}

TEST(Weights, SetWeightsNamesTheWrongTensor) {
  auto model = models::create_model("keras_cnn");
  const Weights good = get_weights(*model);

  Weights renamed = good;
  renamed.names[2] = "conv9.weight";
  std::string message = error_of([&] { set_weights(*model, renamed); });
  EXPECT_NE(message.find("conv9.weight"), std::string::npos) << message;
  EXPECT_NE(message.find(good.names[2]), std::string::npos) << message;

  Weights reshaped = good;
  reshaped.tensors[0] = torch::zeros({3, 3});
  message = error_of([&] { set_weights(*model, reshaped); });
  EXPECT_NE(message.find(good.names[0]), std::string::npos) << message;
  EXPECT_NE(message.find("shape"), std::string::npos) << message;

  Weights shorter = good;
  shorter.names.pop_back();
  shorter.tensors.pop_back();
  EXPECT_NE(error_of([&] { set_weights(*model, shorter); }), "");

  // Nothing was copied by the failed calls.
  EXPECT_TRUE(equal(get_weights(*model), good));
}

TEST(Weights, BatchNormMaskFindsBnLayersByType) {
  auto compact = models::create_model("compact");
  const Weights w = get_weights(*compact);
  const auto mask = batchnorm_mask(*compact, w);
  int bn = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    if (!mask[i]) continue;
    ++bn;
    EXPECT_EQ(w.tensors[i].dim(), w.names[i].ends_with("num_batches_tracked") ? 0 : 1) << w.names[i];
  }
  // compact: 7 conv-BN-ReLU blocks, each BN with weight, bias, running_mean/var, counter.
  EXPECT_EQ(bn, 7 * 5);
  auto keras = models::create_model("keras_cnn");
  const auto keras_mask = batchnorm_mask(*keras, get_weights(*keras));
  EXPECT_EQ(std::count(keras_mask.begin(), keras_mask.end(), true), 0);

  EXPECT_TRUE(is_running_statistic("stage1.1.running_mean"));
  EXPECT_TRUE(is_running_statistic("bn1.num_batches_tracked"));
  EXPECT_FALSE(is_running_statistic("stage1.1.weight"));
  const auto trainable = trainable_mask(w);
  EXPECT_EQ(std::count(trainable.begin(), trainable.end(), true),
            static_cast<long>(compact->parameters().size()));
}

TEST(Weights, ArithmeticIsElementwiseAndPure) {
  Weights a{{"x", "n"}, {torch::tensor({1.0f, 2.0f}), torch::tensor(int64_t{4})}};
  Weights b{{"x", "n"}, {torch::tensor({0.5f, -1.0f}), torch::tensor(int64_t{2})}};
  const Weights s = add(a, b), d = sub(a, b), h = scale(a, 0.5);
  EXPECT_TRUE(torch::equal(s.tensors[0], torch::tensor({1.5f, 1.0f})));
  EXPECT_TRUE(torch::equal(d.tensors[0], torch::tensor({0.5f, 3.0f})));
  EXPECT_TRUE(torch::equal(h.tensors[0], torch::tensor({0.5f, 1.0f})));
  EXPECT_EQ(h.tensors[1].item<int64_t>(), 2);
  EXPECT_EQ(h.tensors[1].scalar_type(), torch::kInt64);
  EXPECT_TRUE(torch::equal(a.tensors[0], torch::tensor({1.0f, 2.0f}))) << "inputs unchanged";
  EXPECT_DOUBLE_EQ(max_abs_diff(a, b), 3.0);
  EXPECT_TRUE(equal(select(a, {true, false}), Weights{{"x"}, {a.tensors[0]}}));
  Weights c = b;
  c.names[1] = "m";
  EXPECT_THROW(add(a, c), fedsign::Error);
}

}  // namespace
}  // namespace fedsign::fl
