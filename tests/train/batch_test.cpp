// Model inputs from ImageSet rows: the one-pass gather_inputs() gives the values of
// normalize(gather_images(...)) in the asked memory layout, for any subset order.
#include "fedsign/train/batch.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <random>

namespace fedsign::train {
namespace {

data::ImageSet random_set(int n, int height, int width) {
  data::ImageSet set;
  set.height = height;
  set.width = width;
  set.pixels.resize(static_cast<std::size_t>(n) * set.image_bytes());
  std::mt19937 rng(7);
  for (auto& v : set.pixels) v = static_cast<std::uint8_t>(rng() & 0xff);
  set.labels.assign(n, 0);
  set.tracks.assign(n, 0);
  return set;
}

TEST(GatherInputs, EqualsNormalizedGatherInBothLayouts) {
  const auto set = random_set(9, 5, 7);  // height != width catches a transposed plane
  const data::Indices order = {8, 2, 5, 0, 3};
  const auto reference = normalize(gather_images(set, order, 1, 4));  // images 2, 5, 0
  for (const bool channels_last : {false, true}) {
    const auto x = gather_inputs(set, order, 1, 4, channels_last);
    ASSERT_EQ(x.sizes(), reference.sizes());
    EXPECT_TRUE(x.is_contiguous(channels_last ? torch::MemoryFormat::ChannelsLast
                                              : torch::MemoryFormat::Contiguous));
    EXPECT_TRUE(torch::allclose(x, reference, 1e-5, 1e-5)) << "channels_last " << channels_last;
  }
  // One value by hand: image 5, channel 2 (blue), row 4, column 6.
  const std::uint8_t blue = set.image(5)[(4 * 7 + 6) * 3 + 2];
  const float expected = (blue / 255.0f - 0.406f) / 0.225f;
  EXPECT_NEAR(gather_inputs(set, order, 1, 4, true)[1][2][4][6].item<float>(), expected, 1e-5);
}

}  // namespace
}  // namespace fedsign::train
