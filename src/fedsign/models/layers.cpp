#include "fedsign/models/layers.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/functional/vision.h>
#include <torch/nn/modules/activation.h>

#include <charconv>

#include "fedsign/core/check.h"

namespace fedsign::models {

torch::Tensor HardswishImpl::forward(const torch::Tensor& x) { return torch::hardswish(x); }

namespace {
// The generator of this thread's innermost DropoutSeedScope (undefined: none).
thread_local at::Generator t_dropout_generator;
}  // namespace

DropoutImpl::DropoutImpl(double p) : p(p) {
  FEDSIGN_CHECK(p >= 0 && p <= 1, "dropout probability has to be between 0 and 1, got {}", p);
}

torch::Tensor DropoutImpl::forward(const torch::Tensor& x) {
  if (!t_dropout_generator.defined()) return torch::dropout(x, p, is_training());
  // at::dropout's CPU path (ATen/native/Dropout.cpp, _dropout_impl), with our generator.
  if (p == 0 || !is_training() || x.numel() == 0) return x;
  if (p == 1) return x.mul(torch::zeros({}, x.options()));
  torch::Tensor noise = torch::empty_like(x, torch::MemoryFormat::Contiguous);
  noise.bernoulli_(1 - p, t_dropout_generator);
  noise.div_(1 - p);
  return x.mul(noise);
}

void DropoutImpl::pretty_print(std::ostream& stream) const {
  stream << "fedsign::models::Dropout(p=" << p << ")";
}

DropoutSeedScope::DropoutSeedScope(uint64_t seed) : previous_(t_dropout_generator) {
  t_dropout_generator = at::detail::createCPUGenerator(seed);
}

DropoutSeedScope::~DropoutSeedScope() { t_dropout_generator = previous_; }

ConvNormActivationImpl::ConvNormActivationImpl(int64_t in_channels, int64_t out_channels,
                                               const ConvNormOptions& options) {
  const int64_t padding = (options.kernel_size - 1) / 2 * options.dilation;
  SequentialImpl* layers = this;
  layers->push_back(
      torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, out_channels, options.kernel_size)
                            .stride(options.stride)
                            .padding(padding)
                            .dilation(options.dilation)
                            .groups(options.groups)
                            .bias(false)));
  layers->push_back(torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(out_channels)
                                               .eps(options.bn_eps)
                                               .momentum(options.bn_momentum)));
  switch (options.activation) {
    case Activation::none:
      break;
    case Activation::relu:
      layers->push_back(torch::nn::ReLU(torch::nn::ReLUOptions().inplace(true)));
      break;
    case Activation::hardswish:
      layers->push_back(Hardswish());
      break;
  }
}

torch::Tensor affine_resample(const torch::Tensor& x, const torch::Tensor& theta) {
  namespace F = torch::nn::functional;
  const auto grid = F::affine_grid(theta.to(torch::kFloat32), x.sizes(), /*align_corners=*/false);
  auto out = F::grid_sample(x.to(torch::kFloat32), grid,
                            F::GridSampleFuncOptions()
                                .mode(torch::kBilinear)
                                .padding_mode(torch::kBorder)
                                .align_corners(false));
  return x.is_contiguous(torch::MemoryFormat::ChannelsLast)
             ? out.contiguous(torch::MemoryFormat::ChannelsLast)
             : out;
}

std::string first_component(const std::string& parameter_name) {
  return parameter_name.substr(0, parameter_name.find('.'));
}

std::optional<int64_t> index_after(const std::string& parameter_name, const std::string& prefix) {
  const std::string head = prefix + ".";
  if (parameter_name.rfind(head, 0) != 0) return std::nullopt;
  const char* begin = parameter_name.data() + head.size();
  const char* end = parameter_name.data() + parameter_name.size();
  int64_t index = 0;
  const auto [next, error] = std::from_chars(begin, end, index);
  if (error != std::errc() || next == begin || (next != end && *next != '.')) return std::nullopt;
  return index;
}

double dropout_or_default(double requested, double model_default) {
  if (requested < 0) return model_default;
  FEDSIGN_CHECK(requested < 1.0, "dropout must be in [0, 1), got {}", requested);
  return requested;
}

std::string shape_string(c10::IntArrayRef shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

void match_device_and_dtype(torch::nn::Module& fresh, const torch::Tensor& like) {
  fresh.to(like.device(), like.scalar_type());
}

}  // namespace fedsign::models
