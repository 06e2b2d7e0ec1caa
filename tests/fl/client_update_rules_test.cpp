// The local update rules of LocalClient against hand-computed values, with a real model on
// generated images. With plain SGD (no momentum, no weight decay) and the same seed, a FedProx or
// SCAFFOLD client sees exactly the batches and data gradients of a plain client, so the
// difference of their weights is the algorithm's term alone:
//   FedProx, 2 steps from x:  w1 = x - lr g(x)          (the proximal term is 0 at w = x)
//                             w2 = w1 - lr (g(w1) + mu (w1 - x))
//                             => w2(prox) - w2(plain) = lr * mu * (x - w1)
//   SCAFFOLD, 1 step, c_i=0:  y = x - lr (g(x) + c - c_i) = y_plain - lr c
//                             c_i+ = c_i - c + (x - y) / lr = g(x) = (x - y_plain) / lr
//   again with c_i = g(x):    y = x - lr c,  delta c_i = c_i++ - c_i = 0
// Only trainable tensors carry these terms; running statistics must match the plain client's.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fedsign/data/gtsrb_reader.h"
#include "fedsign/data/image_loader.h"
#include "fedsign/fl/client/client_state.h"
#include "fedsign/fl/client/local_client.h"
#include "fedsign/fl/weights.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::fl {
namespace {

constexpr double kLr = 0.1;

class ClientUpdateRules : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir;
    testing::write_kaggle_dataset(*dir_ / "data",
        {.num_classes = 4, .tracks_per_class = 2, .frames_per_track = 3});
    data::LoadOptions load;
    load.size = 16;
    load.progress = false;
    load.threads = 1;
    set_ = new data::ImageSet(data::load_images(data::find_dataset(*dir_ / "data"), load));
  }
  static void TearDownTestSuite() {
    delete set_;
    delete dir_;
  }

  void SetUp() override {
    config_.model = "compact";
    config_.batch_size = 8;
    config_.optimizer.name = "sgd";
    config_.optimizer.lr = kLr;
    config_.optimizer.momentum = 0.0;
    config_.optimizer.nesterov = false;
    config_.optimizer.weight_decay = 0.0;
    config_.precision = "fp32";
    config_.memory_format = "contiguous";
    config_.threads = 1;
    config_.seed = 5;
    worker_ = std::make_unique<Worker>(config_, set_->height, 43);
    global_ = get_weights(worker_->model());
    for (std::size_t i = 0; i < set_->size(); ++i) data_.train.push_back(static_cast<int64_t>(i));
  }

  FitIns ins(int64_t steps, double mu = 0.0, std::optional<Weights> control = std::nullopt) const {
    Config config = {{keys::kLocalSteps, steps}, {keys::kRound, int64_t{1}}, {keys::kLr, kLr}};
    if (mu > 0) config[keys::kProximalMu] = mu;
    return FitIns{global_, config, std::move(control)};
  }

  FitResult fit(const FitIns& ins, ClientStateStore& states) {
    LocalClient client(0, *set_, data_, states, *worker_, BnMode::kAggregate, faults_);
    return client.fit(ins);
  }

  // `base` with `delta` (laid out over the trainable tensors) added to its trainable tensors.
  static Weights add_on_trainable(const Weights& base, const Weights& delta) {
    Weights out = clone(base);
    const auto mask = trainable_mask(base);
    std::size_t k = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (!mask[i]) continue;
      EXPECT_EQ(out.names[i], delta.names[k]);
      out.tensors[i] += delta.tensors[k++];
    }
    EXPECT_EQ(k, delta.size());
    return out;
  }

  // |a - b| <= atol + rtol |b|, elementwise, with the worst tensor named on failure.
  static ::testing::AssertionResult close(const Weights& a, const Weights& b, double atol,
                                          double rtol = 1e-3) {
    check_same_layout(a, b, "close");
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!torch::allclose(a.tensors[i].to(torch::kFloat64), b.tensors[i].to(torch::kFloat64),
                           rtol, atol)) {
        return ::testing::AssertionFailure()
               << a.names[i] << " differs by up to "
               << (a.tensors[i] - b.tensors[i]).abs().max().item<double>();
      }
    }
    return ::testing::AssertionSuccess();
  }

  static testing::TempDir* dir_;
  static data::ImageSet* set_;
  train::TrainConfig config_;
  std::unique_ptr<Worker> worker_;
  Weights global_;
  ClientData data_;
  Faults faults_;
};

testing::TempDir* ClientUpdateRules::dir_ = nullptr;
data::ImageSet* ClientUpdateRules::set_ = nullptr;

TEST_F(ClientUpdateRules, FedProxAddsMuTimesTheDistanceToTheGlobalModel) {
  constexpr double kMu = 2.0;
  MemoryClientStateStore states;
  const Weights w1 = fit(ins(1), states).weights;
  const Weights plain2 = fit(ins(2), states).weights;
  const Weights prox2 = fit(ins(2, kMu), states).weights;
  const Weights prox1 = fit(ins(1, kMu), states).weights;
  EXPECT_TRUE(equal(prox1, w1)) << "at w = w_global the proximal gradient is zero";

  // prox2 - plain2 = lr * mu * (x - w1) on trainable tensors, 0 elsewhere.
  const Weights expected_gap = scale(sub(global_, w1), kLr * kMu);
  const Weights gap = sub(prox2, plain2);
  const auto mask = trainable_mask(global_);
  EXPECT_GT(max_abs_diff(select(prox2, mask), select(plain2, mask)), 1e-4) << "the term is visible";
  EXPECT_TRUE(close(select(gap, mask), select(expected_gap, mask), 1e-6, 1e-3));
  std::vector<bool> statistics(mask.size());
  for (std::size_t i = 0; i < mask.size(); ++i) statistics[i] = !mask[i];
  EXPECT_TRUE(equal(select(prox2, statistics), select(plain2, statistics)));
  EXPECT_FALSE(states.load(0).has_value()) << "FedProx keeps no client state";
}

TEST_F(ClientUpdateRules, ScaffoldCorrectsGradientsAndUpdatesTheClientControl) {
  MemoryClientStateStore states;
  const Weights y_plain = fit(ins(1), states).weights;
  const auto mask = trainable_mask(global_);
  // c: a different value per tensor and element, of the size of typical gradients here.
  Weights c = select(zeros_like(global_), mask);
  for (std::size_t k = 0; k < c.size(); ++k) {
    const auto n = c.tensors[k].numel();
    const auto wave = torch::sin(torch::arange(n, torch::kFloat32) + static_cast<double>(k));
    c.tensors[k] = (0.05 * wave).reshape(c.tensors[k].sizes());
  }
  const Weights g = scale(select(sub(global_, y_plain), mask), 1.0 / kLr);  // mean gradient

  // First round of this client: c_i = 0.
  const FitResult first = fit(ins(1, 0.0, c), states);
  EXPECT_TRUE(close(first.weights, add_on_trainable(y_plain, scale(c, -kLr)), 1e-6));
  ASSERT_TRUE(first.control_delta.has_value());
  EXPECT_TRUE(close(*first.control_delta, g, 1e-4));  // c_i+ - 0 = g(x)
  ASSERT_TRUE(states.load(0).has_value());
  ASSERT_TRUE(states.load(0)->control.has_value());
  EXPECT_TRUE(close(*states.load(0)->control, g, 1e-4));

  // Again from x with c_i = g(x): the corrected gradient is c, so y = x - lr c and c_i stays.
  const FitResult second = fit(ins(1, 0.0, c), states);
  // x - lr c = y_plain + lr (g - c); running statistics are those of the plain step.
  EXPECT_TRUE(close(second.weights, add_on_trainable(y_plain, scale(sub(g, c), kLr)), 1e-5));
  EXPECT_TRUE(close(*second.control_delta, zeros_like(c), 1e-4, 0.0));
  EXPECT_TRUE(close(*states.load(0)->control, g, 1e-4));
}

}  // namespace
}  // namespace fedsign::fl
