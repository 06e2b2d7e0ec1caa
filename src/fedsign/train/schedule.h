// Learning-rate schedules as pure functions of the optimizer step, so they can be tested against
// closed-form values and resumed from any step. No LibTorch here.
#pragma once

#include <cstdint>
#include <string>

namespace fedsign::train {

enum class ScheduleKind { kConstant, kCosine, kCosineWarmRestarts, kStep, kOneCycle };

ScheduleKind parse_schedule(const std::string& name);  // constant|cosine|cosine-restarts|step|onecycle
std::string to_string(ScheduleKind kind);

struct ScheduleConfig {
  ScheduleKind kind = ScheduleKind::kCosine;
  double base_lr = 1e-3;
  double min_lr = 0.0;         // eta_min for the cosine schedules
  int64_t warmup_steps = 0;    // linear warm-up from 0 to base_lr before the schedule starts
  int64_t total_steps = 1;     // length of the schedule after warm-up (cosine, one-cycle)
  // CosineAnnealingWarmRestarts (PyTorch semantics): first period T_0 steps, then *T_mult.
  int64_t restart_period = 1;  // T_0
  int64_t restart_mult = 1;    // T_mult
  // Step: lr *= gamma every step_size steps.
  int64_t step_size = 1;
  double gamma = 0.1;
  // One-cycle: rises from base_lr/div_factor to base_lr over pct_start, then anneals (cosine)
  // to base_lr/(div_factor*final_div_factor).
  double pct_start = 0.3;
  double div_factor = 25.0;
  double final_div_factor = 1e4;
};

// Learning rate at optimizer step `step` (0-based).
double learning_rate_at(const ScheduleConfig& config, int64_t step);

}  // namespace fedsign::train
