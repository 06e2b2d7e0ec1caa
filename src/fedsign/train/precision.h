// Numeric precision and memory format for training and inference on CPU.
//
// bf16 autocast runs convolutions and matmuls in bfloat16 through oneDNN where the CPU has
// native bf16 (AVX512-BF16 or AMX); weights stay fp32. "auto" picks bf16 + channels-last on
// such CPUs and falls back to fp32 elsewhere.
#pragma once

#include <string>

namespace fedsign::train {

enum class Precision { kFp32, kBf16 };

struct ComputeMode {
  Precision precision = Precision::kFp32;
  bool channels_last = false;
};

bool cpu_has_native_bf16();

// precision: auto | fp32 | bf16; memory_format: auto | contiguous | channels-last.
// Throws fedsign::Error for unknown names, or bf16 requested on a CPU without it.
ComputeMode resolve_compute_mode(const std::string& precision, const std::string& memory_format);

std::string describe(const ComputeMode& mode);

// Enables CPU bf16 autocast for its lifetime when mode says so (no-op for fp32).
class AutocastScope {
 public:
  explicit AutocastScope(const ComputeMode& mode);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false;
  bool previous_enabled_ = false;
};

}  // namespace fedsign::train
