#include "fedsign/train/augment.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

namespace fedsign::train {
namespace {

AugmentConfig no_change() {
  AugmentConfig c;
  c.rotate_degrees = c.scale = c.translate = c.shear_degrees = c.perspective = 0;
  c.brightness = c.contrast = c.saturation = c.blur_probability = 0;
  return c;
}

TEST(Augment, ZeroStrengthIsIdentity) {
  auto gen = at::detail::createCPUGenerator(1);
  auto images = torch::rand({4, 3, 32, 32});
  auto warps = random_warps(4, no_change(), gen);
  EXPECT_TRUE(torch::allclose(warps, torch::eye(3).expand({4, 3, 3})));
  auto out = augment_batch(images, no_change(), gen);
  EXPECT_TRUE(torch::allclose(out, images, 1e-5, 1e-5));
}

TEST(Augment, KeepsShapeAndRangeAndChangesPixels) {
  auto gen = at::detail::createCPUGenerator(2);
  auto images = torch::rand({8, 3, 32, 32});
  auto out = augment_batch(images, AugmentConfig{}, gen);
  EXPECT_EQ(out.sizes(), images.sizes());
  EXPECT_GE(out.min().item<float>(), 0.0f);
  EXPECT_LE(out.max().item<float>(), 1.0f);
  EXPECT_GT((out - images).abs().mean().item<float>(), 0.01f);
}

TEST(Augment, SameSeedSameOutput) {
  auto images = torch::rand({4, 3, 32, 32});
  auto g1 = at::detail::createCPUGenerator(7);
  auto g2 = at::detail::createCPUGenerator(7);
  EXPECT_TRUE(torch::equal(augment_batch(images, AugmentConfig{}, g1),
                           augment_batch(images, AugmentConfig{}, g2)));
}

TEST(Augment, DisabledReturnsInput) {
  auto gen = at::detail::createCPUGenerator(3);
  AugmentConfig c;
  c.enabled = false;
  auto images = torch::rand({2, 3, 16, 16});
  EXPECT_TRUE(torch::equal(augment_batch(images, c, gen), images));
}

TEST(Augment, NeverMirrors) {
  // A left/right asymmetric image must not come back mirrored: with rotation and shear bounded,
  // the left half stays brighter than the right half in every sample.
  auto images = torch::zeros({64, 3, 32, 32});
  images.narrow(3, 0, 16).fill_(1.0);
  AugmentConfig c;
  c.brightness = c.contrast = c.saturation = 0;
  auto gen = at::detail::createCPUGenerator(4);
  auto out = augment_batch(images, c, gen);
  auto left = out.narrow(3, 0, 16).mean({1, 2, 3});
  auto right = out.narrow(3, 16, 16).mean({1, 2, 3});
  EXPECT_TRUE((left > right).all().item<bool>());
}

}  // namespace
}  // namespace fedsign::train
