// Building blocks shared by the fedsign model files: activations LibTorch 1.13 lacks as modules,
// torchvision's Conv2dNormActivation, and helpers for parameter-name -> layer-group mapping.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace fedsign::models {

// nn.Hardswish (x * relu6(x + 3) / 6); parameter-free, so it adds no state-dict keys.
class HardswishImpl : public torch::nn::Module {
 public:
  torch::Tensor forward(const torch::Tensor& x);
  void pretty_print(std::ostream& stream) const override { stream << "fedsign::models::Hardswish"; }
};
TORCH_MODULE(Hardswish);

// nn.Dropout whose masks come from the calling thread's generator while a DropoutSeedScope is
// alive on it, else from LibTorch's global generator as torch::nn::Dropout's do. Clients trained
// at once on several threads (`fl simulate --parallel-clients`) then each draw their masks from
// their own seed, whatever the interleaving. The same operations as at::dropout on a CPU tensor,
// so a scope seeded s draws the masks torch::manual_seed(s) would.
class DropoutImpl : public torch::nn::Module {
 public:
  explicit DropoutImpl(double p = 0.5);
  torch::Tensor forward(const torch::Tensor& x);
  void pretty_print(std::ostream& stream) const override;
  double p;
};
TORCH_MODULE(Dropout);

// This thread's Dropout modules draw from a generator seeded with `seed` while the scope lives.
class DropoutSeedScope {
 public:
  explicit DropoutSeedScope(uint64_t seed);
  ~DropoutSeedScope();
  DropoutSeedScope(const DropoutSeedScope&) = delete;
  DropoutSeedScope& operator=(const DropoutSeedScope&) = delete;

 private:
  at::Generator previous_;  // undefined: the global generator
};

enum class Activation { none, relu, hardswish };

struct ConvNormOptions {
  int64_t kernel_size = 3;
  int64_t stride = 1;
  int64_t groups = 1;
  int64_t dilation = 1;
  Activation activation = Activation::relu;
  double bn_eps = 1e-5;
  double bn_momentum = 0.1;
};

// torchvision.ops.Conv2dNormActivation: a Sequential of conv (no bias, "same" padding), BN and
// the activation, so its keys are "<name>.0.weight", "<name>.1.running_mean", ... exactly as in
// torchvision. A SequentialImpl subclass with a plain forward, because LibTorch cannot nest a
// bare Sequential inside another.
class ConvNormActivationImpl : public torch::nn::SequentialImpl {
 public:
  ConvNormActivationImpl(int64_t in_channels, int64_t out_channels, const ConvNormOptions& options);
  torch::Tensor forward(const torch::Tensor& x) { return SequentialImpl::forward(x); }
};
TORCH_MODULE(ConvNormActivation);

// x (N x C x H x W) resampled through the affine transforms theta (N x 2 x 3, normalized
// coordinates as affine_grid takes them): bilinear, border pixels repeated, computed in fp32
// (coordinates in bf16 would be off by up to half a pixel at 32 px), returned in x's memory
// layout. The spatial transformer (compact_stn) and test-time views (train/evaluate) use it.
torch::Tensor affine_resample(const torch::Tensor& x, const torch::Tensor& theta);

// "features.3.block.0.0.weight" -> "features"; "fc.weight" -> "fc".
std::string first_component(const std::string& parameter_name);
// "features.3.block.0.0.weight" -> 3 (the component after `prefix.`), nullopt if not numeric.
std::optional<int64_t> index_after(const std::string& parameter_name, const std::string& prefix);

// The model's dropout: options.dropout if >= 0, else the model default.
double dropout_or_default(double requested, double model_default);

// "[16, 3, 3, 3]" (torch's and Python's list notation), for error messages and key listings.
std::string shape_string(c10::IntArrayRef shape);

// Makes `fresh` match the device and dtype of `like` (a tensor of the head it replaces).
void match_device_and_dtype(torch::nn::Module& fresh, const torch::Tensor& like);

}  // namespace fedsign::models
