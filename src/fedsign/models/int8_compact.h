// int8 inference for the compact CNN (issue 19): each conv3x3-BN-ReLU folds into one conv with
// bias, its weights quantized per output channel to int8 (symmetric), its activations per
// tensor to uint8 with the range calibrated on real images, and LibTorch's quantized oneDNN
// kernels (VNNI / AMX int8 where present) run it; the head stays float. Only "compact": it is
// the model that fedsign deploys, and its plain [conv-BN-ReLU]xN + max-pool stages map onto the
// fused quantized conv2d_relu kernel one to one.
//
// The activation ranges are data: `calibrate` measures them with the float model on training
// images, `fedsign quantize` saves them beside the run (int8.json) once it has checked the
// accuracy against the float model, and evaluate / predict / serve rebuild the int8 model from
// model.pt and those ranges at load time.
#pragma once

#include <ATen/core/Tensor.h>

#include <memory>
#include <vector>

namespace fedsign::models {

class Classifier;

struct Int8Ranges {
  // Range of the normalized input (asymmetric uint8 with a zero point).
  double input_min = 0;
  double input_max = 0;
  // Largest output of each conv-BN-ReLU block, in model order (uint8 from 0).
  std::vector<double> block_max;
};

// Whether this LibTorch has a quantized engine for x86 (oneDNN or FBGEMM).
bool int8_inference_available();

// Runs `model` (a compact CNN, in eval mode; restored afterwards) over `batches` of normalized
// N x 3 x H x W inputs and records the ranges: in fp32, or with `bf16` in bfloat16 and
// channels-last (faster; the maxima within a few percent of fp32's, and the uint8 scales with
// them). Throws fedsign::Error for another architecture or no images.
Int8Ranges calibrate_int8(Classifier& model, const std::vector<at::Tensor>& batches,
                          bool bf16 = false);

class Int8Compact {
 public:
  // Folds and quantizes `model`'s current weights (BN running statistics included) with
  // `ranges`; later changes to `model` do not reach it. Throws fedsign::Error when `ranges`
  // do not fit the model (block count, non-finite or empty ranges) or no int8 engine exists.
  Int8Compact(Classifier& model, const Int8Ranges& ranges);
  ~Int8Compact();
  Int8Compact(const Int8Compact&) = delete;
  Int8Compact& operator=(const Int8Compact&) = delete;

  // Float logits N x classes of a normalized float input (any memory format). Read-only: several
  // threads may call it at once.
  at::Tensor forward(const at::Tensor& x) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fedsign::models
