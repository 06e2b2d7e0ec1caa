#include "fedsign/fl/compress/quantize.h"

#include <ATen/CPUGeneratorImpl.h>

#include "fedsign/core/check.h"

namespace fedsign::fl::compress {

int64_t QuantizedTensor::bytes() const {
  int64_t n = values.numel() * static_cast<int64_t>(values.element_size());
  if (scales.defined()) n += scales.numel() * static_cast<int64_t>(scales.element_size());
  return n;
}

int64_t QuantizedWeights::bytes() const {
  int64_t n = 0;
  for (const auto& t : tensors) n += t.bytes();
  return n;
}

QuantizedWeights quantize_int8(const Weights& w, const Int8Options& options) {
  QuantizedWeights out;
  out.names = w.names;
  at::Generator generator = at::detail::createCPUGenerator(options.seed);
  for (const auto& t : w.tensors) {
    QuantizedTensor q;
    q.dtype = t.scalar_type();
    if (!t.is_floating_point()) {
      q.raw = true;
      q.values = t;
      out.tensors.push_back(std::move(q));
      continue;
    }
    const bool per_channel = options.per_channel && t.dim() >= 2;
    const torch::Tensor x = per_channel ? t.to(torch::kFloat32).reshape({t.size(0), -1})
                                        : t.to(torch::kFloat32).reshape({1, -1});
    torch::Tensor scales = std::get<0>(x.abs().max(1)) / 127.0f;  // [rows]
    const torch::Tensor safe = torch::where(scales > 0, scales, torch::ones_like(scales));
    torch::Tensor y = x / safe.unsqueeze(1);
    if (options.stochastic) {
      y = (y + at::rand(y.sizes(), generator, torch::TensorOptions(torch::kFloat32))).floor_();
    } else {
      y = y.round();
    }
    q.values = y.clamp_(-127, 127).to(torch::kInt8).reshape(t.sizes());
    q.scales = scales;
    out.tensors.push_back(std::move(q));
  }
  return out;
}

Weights dequantize(const QuantizedWeights& q) {
  FEDSIGN_CHECK(q.names.size() == q.tensors.size(), "int8 update: {} names for {} tensors",
                q.names.size(), q.tensors.size());
  Weights out;
  out.names = q.names;
  for (std::size_t i = 0; i < q.tensors.size(); ++i) {
    const QuantizedTensor& t = q.tensors[i];
    if (t.raw) {
      out.tensors.push_back(t.values);
      continue;
    }
    FEDSIGN_CHECK(t.values.scalar_type() == torch::kInt8 && t.scales.dim() == 1,
                  "int8 update: tensor '{}' is not int8 with a scale vector", q.names[i]);
    const int64_t rows = t.scales.numel();
    FEDSIGN_CHECK(rows == 1 || (t.values.dim() >= 1 && t.values.size(0) == rows),
                  "int8 update: tensor '{}' has {} scales for {} channels", q.names[i], rows,
                  t.values.dim() >= 1 ? t.values.size(0) : 0);
    const torch::Tensor x =
        t.values.to(torch::kFloat32).reshape({rows, -1}) * t.scales.to(torch::kFloat32).unsqueeze(1);
    out.tensors.push_back(x.reshape(t.values.sizes()).to(t.dtype).contiguous());
  }
  return out;
}

Weights to_bf16(const Weights& w) {
  Weights out;
  out.names = w.names;
  for (const auto& t : w.tensors) {
    out.tensors.push_back(t.is_floating_point() ? t.to(torch::kBFloat16) : t);
  }
  return out;
}

Weights from_bf16(const Weights& w) {
  Weights out;
  out.names = w.names;
  for (const auto& t : w.tensors) {
    out.tensors.push_back(t.scalar_type() == torch::kBFloat16 ? t.to(torch::kFloat32) : t);
  }
  return out;
}

}  // namespace fedsign::fl::compress
