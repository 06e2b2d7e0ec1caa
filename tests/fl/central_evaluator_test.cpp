// Central evaluation in int8 (--eval-precision int8): it scores what the float model scores up to
// quantization, from a fixed calibration sample of training images (so the same weights read the
// same twice), and it refuses models without an int8 path, naming the option.
#include "fedsign/fl/run/central_evaluator.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "fedsign/core/check.h"
#include "fedsign/fl/weights.h"
#include "fedsign/models/int8_compact.h"
#include "fedsign/models/registry.h"
#include "tests/testing/generated_data.h"

namespace fedsign::fl {
namespace {

class CentralEvaluatorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    data_ = new testing::GeneratedData({.num_classes = 6, .tracks_per_class = 4, .frames_per_track = 5},
                                       32);
    set_ = &data_->set;
    split_ = &data_->split;
  }
  static void TearDownTestSuite() { delete data_; }

  static train::TrainConfig config(const std::string& model = "compact") {
    train::TrainConfig c;
    c.model = model;
    c.eval_batch_size = 16;
    c.precision = "fp32";
    c.memory_format = "contiguous";
    c.threads = 1;
    c.seed = 3;
    return c;
  }

  // Weights of a compact model whose batch norms are not the identity, as after training.
  static Weights compact_weights() {
    torch::manual_seed(11);
    models::ModelOptions options;
    options.num_classes = 6;
    options.input_size = 32;
    auto model = models::create_model("compact", options);
    torch::NoGradGuard no_grad;
    for (auto& buffer : model->named_buffers()) {
      if (buffer.key().find("running_mean") != std::string::npos) buffer.value().normal_(0, 0.2);
      if (buffer.key().find("running_var") != std::string::npos) buffer.value().uniform_(0.5, 2.0);
    }
    return get_weights(*model);
  }

  static testing::GeneratedData* data_;
  static const data::ImageSet* set_;
  static const data::TrackSplit* split_;
};

testing::GeneratedData* CentralEvaluatorTest::data_ = nullptr;
const data::ImageSet* CentralEvaluatorTest::set_ = nullptr;
const data::TrackSplit* CentralEvaluatorTest::split_ = nullptr;

TEST_F(CentralEvaluatorTest, Int8ScoresWhatTheFloatModelScoresFromAFixedTrainingSample) {
  if (!models::int8_inference_available()) GTEST_SKIP() << "no x86 quantized engine";
  const train::TrainConfig c = config();
  const Int8Calibration calibration = int8_eval_calibration(*set_, split_->train, c);
  // All of this small training split (fewer than 256 images), only training images, no repeats.
  EXPECT_EQ(calibration.indices.size(), std::min<std::size_t>(split_->train.size(),
                                                              kInt8EvalCalibrationImages));
  for (auto i : calibration.indices) {
    EXPECT_NE(std::find(split_->train.begin(), split_->train.end(), i), split_->train.end());
  }
  EXPECT_EQ(int8_eval_calibration(*set_, split_->train, c).indices, calibration.indices);

  const Weights weights = compact_weights();
  auto float_eval = make_central_evaluator(*set_, split_->validation, c, 6);
  auto int8_eval = make_central_evaluator(*set_, split_->validation, c, 6, calibration);
  const auto f = float_eval(1, weights);
  const auto q = int8_eval(1, weights);
  ASSERT_TRUE(f && q);
  EXPECT_EQ(q->num_examples, static_cast<int64_t>(split_->validation.size()));
  // Quantized, not the float model again, and close to it: a wrong fold or range is far off.
  EXPECT_NE(q->loss, f->loss);
  EXPECT_NEAR(q->loss, f->loss, 0.05 * f->loss);
  EXPECT_NEAR(q->metrics.at("accuracy"), f->metrics.at("accuracy"), 0.1);
  // The same weights read the same again (the calibration sample does not move).
  const auto again = int8_eval(2, weights);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->loss, q->loss);
}

TEST_F(CentralEvaluatorTest, Int8RefusesModelsWithoutAnInt8Path) {
  try {
    int8_eval_calibration(*set_, split_->train, config("keras_cnn"));
    ADD_FAILURE() << "keras_cnn accepted";
  } catch (const fedsign::Error& e) {
    EXPECT_NE(std::string(e.what()).find("--eval-precision int8"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("keras_cnn"), std::string::npos) << e.what();
  }
  EXPECT_THROW(int8_eval_calibration(*set_, {}, config()), fedsign::Error);
}

}  // namespace
}  // namespace fedsign::fl
