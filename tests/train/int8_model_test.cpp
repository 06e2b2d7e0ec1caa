// The int8 ranges file: written and read back exactly, refused when malformed or measured with
// other weights, each time naming the file. And the calibration batches that quantize and the
// federated int8 evaluator share.
#include "fedsign/train/int8_model.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fedsign/core/check.h"
#include "fedsign/core/hash.h"
#include "fedsign/train/batch.h"
#include "tests/testing/gtsrb_fixture.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::train {
namespace {

TEST(Int8Record, RoundTripsAndRefusesMalformedOrStaleFiles) {
  testing::TempDir tmp;
  LoadedModel loaded;
  loaded.weights_file = tmp / "model.pt";
  testing::write_text(loaded.weights_file, "weights v1");
  const auto file = int8_ranges_file(loaded.weights_file);
  EXPECT_EQ(file.filename(), "model.int8.json");

  Int8Record record;
  record.ranges = {-2.1, 2.6, {3.5, 7.25, 1.0}};
  record.weights_checksum = file_checksum(loaded.weights_file);
  record.calibration_images = 512;
  record.float_precision = "fp32";
  record.split = "validation";
  record.images = 100;
  record.float_accuracy = 0.99;
  record.int8_accuracy = 0.98;
  save_int8_record(file, record);
  const Int8Record back = load_int8_record(loaded);
  EXPECT_EQ(back.ranges.block_max, record.ranges.block_max);
  EXPECT_DOUBLE_EQ(back.ranges.input_min, -2.1);
  EXPECT_DOUBLE_EQ(back.int8_accuracy, 0.98);
  EXPECT_EQ(back.calibration_images, 512);

  auto expect_refused = [&](const std::string& what) {
    try {
      load_int8_record(loaded);
      ADD_FAILURE() << "accepted; expected: " << what;
    } catch (const fedsign::Error& e) {
      EXPECT_NE(std::string(e.what()).find(file.filename().string()), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  testing::write_text(loaded.weights_file, "weights v2");
  expect_refused("other weights");
  testing::write_text(loaded.weights_file, "weights v1");
  testing::write_text(file, testing::read_text(file).substr(0, 40));  // truncated
  expect_refused("malformed");
  std::filesystem::remove(file);
  expect_refused("fedsign quantize");
}

TEST(Int8Calibration, BatchesTheFirstImagesInOrderInTheAskedLayout) {
  data::ImageSet set;
  set.height = set.width = 4;
  for (int i = 0; i < 7; ++i) {
    set.labels.push_back(i);
    for (std::size_t b = 0; b < set.image_bytes(); ++b) set.pixels.push_back(static_cast<std::uint8_t>(30 * i + b));
  }
  const data::Indices indices = {6, 2, 5, 0, 1, 3, 4};
  const auto batches = calibration_batches(set, indices, /*max_images=*/5, /*batch_size=*/2,
                                           /*channels_last=*/true);
  ASSERT_EQ(batches.size(), 3u);  // 2 + 2 + 1 of the first five indices
  EXPECT_EQ(batches[2].size(0), 1);
  EXPECT_TRUE(batches[0].is_contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(torch::equal(batches[1], gather_inputs(set, indices, 2, 4, true)));
  EXPECT_TRUE(torch::equal(batches[2], gather_inputs(set, {1}, 0, 1, true)));
  const auto planar = calibration_batches(set, indices, 100, 4, /*channels_last=*/false);
  ASSERT_EQ(planar.size(), 2u);  // all seven: 4 + 3
  EXPECT_TRUE(planar[1].is_contiguous());
  EXPECT_THROW(calibration_batches(set, indices, 0, 2, true), fedsign::Error);
  EXPECT_THROW(calibration_batches(set, {}, 5, 2, true), fedsign::Error);
}

}  // namespace
}  // namespace fedsign::train
