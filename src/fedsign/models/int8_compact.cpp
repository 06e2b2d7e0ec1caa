#include "fedsign/models/int8_compact.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <optional>

#include "fedsign/core/check.h"
#include "fedsign/models/compact_cnn.h"

namespace fedsign::models {

namespace {

CompactCnnImpl& as_compact(Classifier& model) {
  auto* compact = dynamic_cast<CompactCnnImpl*>(&model);
  FEDSIGN_CHECK(compact != nullptr,
                "int8 inference is built for the compact model only (this one is not compact)");
  return *compact;
}

// One conv-BN-ReLU block of a stage, and whether a 2x2 max pool follows it.
struct FloatBlock {
  torch::nn::Conv2dImpl* conv = nullptr;
  torch::nn::BatchNorm2dImpl* bn = nullptr;
  bool pool_after = false;
};

std::vector<FloatBlock> blocks_of(CompactCnnImpl& model) {
  std::vector<FloatBlock> blocks;
  for (const auto& stage : {model.stage1, model.stage2, model.stage3, model.stage4}) {
    for (const auto& child : stage->children()) {
      if (auto* conv = child->as<torch::nn::Conv2dImpl>()) {
        blocks.push_back({conv, nullptr, false});
      } else if (auto* bn = child->as<torch::nn::BatchNorm2dImpl>()) {
        FEDSIGN_CHECK(!blocks.empty() && blocks.back().bn == nullptr,
                      "compact: batch norm without its conv");
        blocks.back().bn = bn;
      } else if (child->as<torch::nn::MaxPool2dImpl>()) {
        FEDSIGN_CHECK(!blocks.empty(), "compact: max pool before any conv");
        blocks.back().pool_after = true;
      }
    }
  }
  for (const auto& b : blocks) FEDSIGN_CHECK(b.bn != nullptr, "compact: conv without batch norm");
  return blocks;
}

// The block's conv with BN folded in: w * gamma / sqrt(var + eps), beta - mean * that scale.
std::pair<torch::Tensor, torch::Tensor> fold(const FloatBlock& b) {
  const auto scale = b.bn->weight / torch::sqrt(b.bn->running_var + b.bn->options.eps());
  auto weight = b.conv->weight.contiguous() * scale.view({-1, 1, 1, 1});
  auto bias = b.bn->bias - b.bn->running_mean * scale;
  if (b.conv->bias.defined()) bias = bias + b.conv->bias * scale;
  return {weight.contiguous(), bias.contiguous()};
}

torch::Tensor max_pool(const torch::Tensor& x) { return at::max_pool2d(x, {2, 2}, {2, 2}, {0, 0}, {1, 1}); }

// Restores train/eval mode when calibration is done.
struct EvalModeScope {
  explicit EvalModeScope(Classifier& m) : model(m), was_training(m.is_training()) { model.eval(); }
  ~EvalModeScope() { model.train(was_training); }
  Classifier& model;
  bool was_training;
};

bool select_engine() {
  const auto& engines = at::globalContext().supportedQEngines();
  for (auto wanted : {at::QEngine::ONEDNN, at::QEngine::FBGEMM}) {
    for (auto engine : engines) {
      if (engine == wanted) {
        if (at::globalContext().qEngine() != wanted) at::globalContext().setQEngine(wanted);
        return true;
      }
    }
  }
  return false;
}

}  // namespace

bool int8_inference_available() { return select_engine(); }

Int8Ranges calibrate_int8(Classifier& model, const std::vector<at::Tensor>& batches, bool bf16) {
  CompactCnnImpl& compact = as_compact(model);
  const std::vector<FloatBlock> blocks = blocks_of(compact);
  FEDSIGN_CHECK(!batches.empty(), "int8 calibration needs at least one batch of images");
  EvalModeScope eval(model);
  torch::NoGradGuard no_grad;
  Int8Ranges ranges;
  ranges.input_min = std::numeric_limits<double>::infinity();
  ranges.input_max = -std::numeric_limits<double>::infinity();
  ranges.block_max.assign(blocks.size(), 0.0);
  const auto dtype = bf16 ? torch::kBFloat16 : torch::kFloat32;
  const auto format = bf16 ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> folded;
  for (const auto& block : blocks) {
    const auto [weight, bias] = fold(block);
    folded.emplace_back(weight.to(dtype).contiguous(format), bias.to(dtype));
  }
  for (const auto& batch : batches) {
    // Read in the batch's own memory format: the bf16 path wants channels-last, which the
    // int8 central evaluator's batches already are (no planar copy and back).
    auto x = batch.to(torch::kFloat32);
    ranges.input_min = std::min(ranges.input_min, x.min().item<double>());
    ranges.input_max = std::max(ranges.input_max, x.max().item<double>());
    x = x.to(dtype).contiguous(format);
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      const auto& [weight, bias] = folded[i];
      x = torch::relu(torch::conv2d(x, weight, bias, 1, 1));
      ranges.block_max[i] = std::max(ranges.block_max[i], x.max().item<double>());
      if (blocks[i].pool_after) x = max_pool(x);
    }
  }
  return ranges;
}

struct Int8Compact::Impl {
  struct Block {
    c10::IValue packed;  // oneDNN's prepacked int8 weights and float bias
    double output_scale = 1;
    bool pool_after = false;
  };
  double input_scale = 1;
  int64_t input_zero_point = 0;
  std::vector<Block> blocks;
  torch::Tensor head_weight, head_bias;
  std::optional<c10::OperatorHandle> conv_relu;
};

Int8Compact::Int8Compact(Classifier& model, const Int8Ranges& ranges) : impl_(std::make_unique<Impl>()) {
  FEDSIGN_CHECK(select_engine(), "int8 inference needs LibTorch's oneDNN or FBGEMM quantized engine");
  CompactCnnImpl& compact = as_compact(model);
  const std::vector<FloatBlock> blocks = blocks_of(compact);
  FEDSIGN_CHECK(ranges.block_max.size() == blocks.size(),
                "int8 ranges are for {} conv blocks, the model has {}", ranges.block_max.size(),
                blocks.size());
  FEDSIGN_CHECK(std::isfinite(ranges.input_min) && std::isfinite(ranges.input_max) &&
                    ranges.input_max > ranges.input_min,
                "int8 input range [{}, {}] is empty or not finite", ranges.input_min, ranges.input_max);
  torch::NoGradGuard no_grad;
  // The input range is widened to include 0 so that zero padding is exactly representable.
  const double lo = std::min(ranges.input_min, 0.0), hi = std::max(ranges.input_max, 0.0);
  impl_->input_scale = (hi - lo) / 255.0;
  impl_->input_zero_point = std::lround(-lo / impl_->input_scale);

  auto prepack = c10::Dispatcher::singleton().findSchemaOrThrow("quantized::conv2d_prepack", "");
  impl_->conv_relu = c10::Dispatcher::singleton().findSchemaOrThrow("quantized::conv2d_relu", "new");
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const double max = ranges.block_max[i];
    FEDSIGN_CHECK(std::isfinite(max) && max > 0, "int8 range of conv block {} is {}: not usable",
                  i + 1, max);
    const auto [weight, bias] = fold(blocks[i]);
    // Symmetric per-channel int8 weights; a channel of zeros keeps a tiny scale (not 0).
    const auto channel_scale =
        (weight.abs().amax({1, 2, 3}) / 127.0).clamp_min(1e-12).to(torch::kDouble);
    const auto qweight = at::quantize_per_channel(
        weight, channel_scale, torch::zeros({weight.size(0)}, torch::kLong), 0, torch::kQInt8);
    std::vector<c10::IValue> stack{qweight, c10::optional<at::Tensor>(bias),
                                   c10::List<int64_t>({1, 1}), c10::List<int64_t>({1, 1}),
                                   c10::List<int64_t>({1, 1}), int64_t{1}};
    prepack.callBoxed(&stack);
    impl_->blocks.push_back({stack.at(0), max / 255.0, blocks[i].pool_after});
  }
  impl_->head_weight = compact.head->weight.detach().clone();
  impl_->head_bias = compact.head->bias.detach().clone();
}

Int8Compact::~Int8Compact() = default;

at::Tensor Int8Compact::forward(const at::Tensor& x) const {
  FEDSIGN_CHECK(x.dim() == 4 && x.size(1) == 3, "int8 compact: expected N x 3 x H x W input, got {} dimensions",
                x.dim());
  torch::NoGradGuard no_grad;
  auto q = at::quantize_per_tensor(x.to(torch::kFloat32).contiguous(torch::MemoryFormat::ChannelsLast),
                                   impl_->input_scale, impl_->input_zero_point, torch::kQUInt8);
  for (const auto& block : impl_->blocks) {
    std::vector<c10::IValue> stack{q, block.packed, block.output_scale, int64_t{0}};
    impl_->conv_relu->callBoxed(&stack);
    q = stack.at(0).toTensor();
    if (block.pool_after) q = max_pool(q);
  }
  const auto features = q.dequantize().mean({2, 3});
  return torch::linear(features, impl_->head_weight, impl_->head_bias);
}

}  // namespace fedsign::models
