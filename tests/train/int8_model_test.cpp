// The int8 ranges file: written and read back exactly, refused when malformed or measured with
// other weights, each time naming the file.
#include "fedsign/train/int8_model.h"

#include <gtest/gtest.h>

#include "fedsign/core/check.h"
#include "fedsign/core/hash.h"
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

}  // namespace
}  // namespace fedsign::train
