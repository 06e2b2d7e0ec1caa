#include "fedsign/train/precision.h"

#include <ATen/autocast_mode.h>

#include "fedsign/core/check.h"

namespace fedsign::train {

bool cpu_has_native_bf16() {
  // GCC's CPU detection: AVX512-BF16 (Zen 4, Cooper Lake+) or AMX-BF16 (Sapphire Rapids+).
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16") || __builtin_cpu_supports("amx-bf16");
}

ComputeMode resolve_compute_mode(const std::string& precision, const std::string& memory_format) {
  ComputeMode mode;
  const bool native = cpu_has_native_bf16();
  if (precision == "auto") {
    mode.precision = native ? Precision::kBf16 : Precision::kFp32;
  } else if (precision == "bf16") {
    FEDSIGN_CHECK(native, "--precision bf16: this CPU has no native bfloat16 (AVX512-BF16/AMX); "
                          "use fp32 or auto");
    mode.precision = Precision::kBf16;
  } else if (precision == "fp32") {
    mode.precision = Precision::kFp32;
  } else {
    FEDSIGN_FAIL("unknown --precision '{}' (auto, fp32, bf16)", precision);
  }
  if (memory_format == "auto") {
    mode.channels_last = mode.precision == Precision::kBf16;
  } else if (memory_format == "channels-last") {
    mode.channels_last = true;
  } else if (memory_format == "contiguous") {
    mode.channels_last = false;
  } else {
    FEDSIGN_FAIL("unknown --memory-format '{}' (auto, contiguous, channels-last)", memory_format);
  }
  return mode;
}

std::string describe(const ComputeMode& mode) {
  return fmt::format("{} {}", mode.precision == Precision::kBf16 ? "bf16-autocast" : "fp32",
                     mode.channels_last ? "channels-last" : "contiguous");
}

AutocastScope::AutocastScope(const ComputeMode& mode) {
  if (mode.precision != Precision::kBf16) return;
  active_ = true;
  previous_enabled_ = at::autocast::is_cpu_enabled();
  at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  at::autocast::set_cpu_enabled(true);
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  at::autocast::set_cpu_enabled(previous_enabled_);
  // Autocast caches bf16 copies of weights; they are stale after the next optimizer step.
  at::autocast::clear_cache();
}

}  // namespace fedsign::train
