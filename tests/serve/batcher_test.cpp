// MicroBatcher without HTTP: queued jobs merge into one forward pass up to max_batch (and not at
// all with max_batch 1), answers go back to the right job, and a full queue refuses.
#include "fedsign/serve/batcher.h"

#include <gtest/gtest.h>

#include "fedsign/train/predictor.h"
#include "tests/serve/serve_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::serve::testing {
namespace {

class BatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_model(tmp_ / "run", 5);
    store_ = std::make_unique<ModelStore>(tmp_ / "run", "fp32");
  }
  // `count` images of one flat grey level each.
  std::vector<std::uint8_t> images(int count, int first_level) const {
    const std::size_t bytes = store_->current()->predictor.image_bytes();
    std::vector<std::uint8_t> pixels(bytes * count);
    for (int i = 0; i < count; ++i) {
      std::fill_n(pixels.begin() + i * bytes, bytes, static_cast<std::uint8_t>(first_level + 40 * i));
    }
    return pixels;
  }
  fedsign::testing::TempDir tmp_;
  std::unique_ptr<ModelStore> store_;
};

TEST_F(BatcherTest, QueuedJobsMergeUpToMaxBatch) {
  BatcherOptions options;
  options.max_batch = 3;
  options.workers = 1;
  std::vector<std::int64_t> batches;
  MicroBatcher batcher(options, *store_, [&](std::int64_t n) { batches.push_back(n); });
  batcher.pause();
  std::vector<std::future<BatchAnswer>> answers;
  for (int i = 0; i < 4; ++i) {
    batcher.announce();
    auto f = batcher.submit(images(1, 10 + 40 * i), 1, 2);
    ASSERT_TRUE(f);
    answers.push_back(std::move(*f));
  }
  EXPECT_EQ(batcher.queued_images(), 4);
  batcher.resume();
  // Each answer is what the model says about that job's image alone.
  const auto& predictor = store_->current()->predictor;
  for (int i = 0; i < 4; ++i) {
    const BatchAnswer a = answers[i].get();
    ASSERT_EQ(a.error, "");
    ASSERT_EQ(a.scores.size(), 1u);
    ASSERT_EQ(a.scores[0].size(), 2u);
    const auto alone = predictor.classify(images(1, 10 + 40 * i).data(), 1, 2)[0];
    EXPECT_EQ(a.scores[0][0].class_id, alone[0].class_id);
    EXPECT_NEAR(a.scores[0][0].confidence, alone[0].confidence, 1e-5);
    EXPECT_EQ(a.batch_images, i < 3 ? 3 : 1);
  }
  EXPECT_EQ(batches, (std::vector<std::int64_t>{3, 1}));
}

TEST_F(BatcherTest, MaxBatchOneNeverMergesAndBigJobsRunWhole) {
  BatcherOptions options;
  options.max_batch = 1;
  options.workers = 1;
  std::vector<std::int64_t> batches;
  MicroBatcher batcher(options, *store_, [&](std::int64_t n) { batches.push_back(n); });
  batcher.pause();
  batcher.announce();
  auto a = batcher.submit(images(1, 0), 1, 1);
  batcher.announce();
  auto b = batcher.submit(images(3, 0), 3, 1);
  ASSERT_TRUE(a && b);
  batcher.resume();
  EXPECT_EQ(a->get().batch_images, 1);
  const auto big = b->get();
  EXPECT_EQ(big.batch_images, 3);
  EXPECT_EQ(big.scores.size(), 3u);
  EXPECT_EQ(batches, (std::vector<std::int64_t>{1, 3}));
}

TEST_F(BatcherTest, FullQueueRefuses) {
  BatcherOptions options;
  options.max_queue = 2;
  options.workers = 1;
  MicroBatcher batcher(options, *store_);
  batcher.pause();
  batcher.announce();
  auto a = batcher.submit(images(2, 0), 2, 1);
  ASSERT_TRUE(a);
  batcher.announce();
  EXPECT_FALSE(batcher.submit(images(1, 0), 1, 1));
  batcher.resume();
  EXPECT_EQ(a->get().scores.size(), 2u);
  batcher.announce();
  EXPECT_TRUE(batcher.submit(images(1, 0), 1, 1));  // room again
}

}  // namespace
}  // namespace fedsign::serve::testing
