#include "fedsign/train/augment.h"

#include <cmath>
#include <numbers>

namespace fedsign::train {
namespace F = torch::nn::functional;

namespace {
// Uniform samples in [-amplitude, amplitude].
torch::Tensor symmetric(int64_t n, double amplitude, at::Generator& gen) {
  return (torch::rand({n}, gen) * 2.0 - 1.0) * amplitude;
}

torch::Tensor grayscale(const torch::Tensor& images) {
  // ITU-R 601 luma weights, as torchvision's rgb_to_grayscale.
  return (images.select(1, 0) * 0.299 + images.select(1, 1) * 0.587 +
          images.select(1, 2) * 0.114)
      .unsqueeze(1);
}
}  // namespace

torch::Tensor random_warps(int64_t n, const AugmentConfig& c, at::Generator& gen) {
  constexpr double kDeg = std::numbers::pi / 180.0;
  auto angle = symmetric(n, c.rotate_degrees * kDeg, gen);
  auto shear = symmetric(n, c.shear_degrees * kDeg, gen);
  auto scale = 1.0 + symmetric(n, c.scale, gen);
  auto tx = symmetric(n, 2.0 * c.translate, gen);  // normalized coordinates span 2
  auto ty = symmetric(n, 2.0 * c.translate, gen);
  auto px = symmetric(n, c.perspective, gen);
  auto py = symmetric(n, c.perspective, gen);

  // Output -> input mapping: input = T * R * Sh * (1/scale) * output, then a projective row.
  auto cos_a = torch::cos(angle), sin_a = torch::sin(angle), tan_s = torch::tan(shear);
  auto inv_scale = 1.0 / scale;
  auto m = torch::zeros({n, 3, 3});
  m.select(1, 0).select(1, 0).copy_(cos_a * inv_scale);
  m.select(1, 0).select(1, 1).copy_((cos_a * tan_s - sin_a) * inv_scale);
  m.select(1, 0).select(1, 2).copy_(tx);
  m.select(1, 1).select(1, 0).copy_(sin_a * inv_scale);
  m.select(1, 1).select(1, 1).copy_((sin_a * tan_s + cos_a) * inv_scale);
  m.select(1, 1).select(1, 2).copy_(ty);
  m.select(1, 2).select(1, 0).copy_(px);
  m.select(1, 2).select(1, 1).copy_(py);
  m.select(1, 2).select(1, 2).fill_(1.0);
  return m;
}

torch::Tensor augment_batch(const torch::Tensor& images, const AugmentConfig& c,
                            at::Generator& gen) {
  if (!c.enabled) return images;
  const int64_t n = images.size(0), h = images.size(2), w = images.size(3);

  // Geometric: one sampling grid for all transforms.
  auto ys = torch::linspace(-1.0 + 1.0 / h, 1.0 - 1.0 / h, h);
  auto xs = torch::linspace(-1.0 + 1.0 / w, 1.0 - 1.0 / w, w);
  auto grid_yx = torch::meshgrid({ys, xs}, "ij");
  auto base = torch::stack({grid_yx[1], grid_yx[0], torch::ones({h, w})}, -1).view({1, h * w, 3});
  auto warps = random_warps(n, c, gen);
  auto mapped = torch::matmul(base, warps.transpose(1, 2));  // N x HW x 3
  auto grid = (mapped.narrow(2, 0, 2) / mapped.narrow(2, 2, 1).clamp_min(1e-3)).view({n, h, w, 2});
  auto out = F::grid_sample(images, grid,
                            F::GridSampleFuncOptions()
                                .mode(torch::kBilinear)
                                .padding_mode(torch::kBorder)
                                .align_corners(false));

  // Photometric, per sample.
  auto factor = [&](double amplitude) { return (1.0 + symmetric(n, amplitude, gen)).view({n, 1, 1, 1}); };
  out = out * factor(c.brightness);
  auto mean_gray = grayscale(out).mean({1, 2, 3}, true);
  out = (out - mean_gray) * factor(c.contrast) + mean_gray;
  auto gray = grayscale(out);
  out = (out - gray) * factor(c.saturation) + gray;

  // Mild blur on a random subset: blend with a 3x3 Gaussian-blurred copy.
  if (c.blur_probability > 0) {
    static const auto kernel =
        (torch::tensor({1.f, 2.f, 1.f}).view({3, 1}) * torch::tensor({1.f, 2.f, 1.f}).view({1, 3}) /
         16.0)
            .view({1, 1, 3, 3})
            .repeat({3, 1, 1, 1});
    auto blurred = F::conv2d(F::pad(out, F::PadFuncOptions({1, 1, 1, 1}).mode(torch::kReplicate)),
                             kernel, F::Conv2dFuncOptions().groups(3));
    auto pick = (torch::rand({n}, gen) < c.blur_probability).to(torch::kFloat32);
    auto alpha = (pick * torch::rand({n}, gen)).view({n, 1, 1, 1});
    out = out * (1.0 - alpha) + blurred * alpha;
  }
  return out.clamp_(0.0, 1.0);
}

}  // namespace fedsign::train
