#include "fedsign/train/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "fedsign/core/check.h"

namespace fedsign::train {

ScheduleKind parse_schedule(const std::string& name) {
  if (name == "constant") return ScheduleKind::kConstant;
  if (name == "cosine") return ScheduleKind::kCosine;
  if (name == "cosine-restarts") return ScheduleKind::kCosineWarmRestarts;
  if (name == "step") return ScheduleKind::kStep;
  if (name == "onecycle") return ScheduleKind::kOneCycle;
  FEDSIGN_FAIL("unknown schedule '{}' (constant, cosine, cosine-restarts, step, onecycle)", name);
}

std::string to_string(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::kConstant: return "constant";
    case ScheduleKind::kCosine: return "cosine";
    case ScheduleKind::kCosineWarmRestarts: return "cosine-restarts";
    case ScheduleKind::kStep: return "step";
    case ScheduleKind::kOneCycle: return "onecycle";
  }
  return "?";
}

namespace {
double cosine_between(double high, double low, double fraction) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  return low + (high - low) * 0.5 * (1.0 + std::cos(std::numbers::pi * fraction));
}
}  // namespace

double learning_rate_at(const ScheduleConfig& c, int64_t step) {
  if (step < c.warmup_steps) {
    return c.base_lr * static_cast<double>(step + 1) / static_cast<double>(c.warmup_steps);
  }
  const int64_t t = step - c.warmup_steps;
  switch (c.kind) {
    case ScheduleKind::kConstant:
      return c.base_lr;
    case ScheduleKind::kCosine:
      return cosine_between(c.base_lr, c.min_lr,
                            static_cast<double>(t) / std::max<int64_t>(1, c.total_steps));
    case ScheduleKind::kCosineWarmRestarts: {
      // Find the current period: T_0, T_0*T_mult, T_0*T_mult^2, ...
      FEDSIGN_CHECK(c.restart_period >= 1 && c.restart_mult >= 1,
                    "cosine-restarts needs restart-period >= 1 and restart-mult >= 1");
      int64_t period = c.restart_period;
      int64_t t_cur = t;
      while (t_cur >= period) {
        t_cur -= period;
        period *= c.restart_mult;
      }
      return cosine_between(c.base_lr, c.min_lr, static_cast<double>(t_cur) / period);
    }
    case ScheduleKind::kStep:
      return c.base_lr * std::pow(c.gamma, static_cast<double>(t / std::max<int64_t>(1, c.step_size)));
    case ScheduleKind::kOneCycle: {
      const double initial = c.base_lr / c.div_factor;
      const double final_lr = initial / c.final_div_factor;
      const double rise = std::max(1.0, c.pct_start * c.total_steps);
      if (t < rise) return cosine_between(initial, c.base_lr, t / rise);  // rising half-cosine
      return cosine_between(c.base_lr, final_lr, (t - rise) / std::max(1.0, c.total_steps - rise));
    }
  }
  return c.base_lr;
}

}  // namespace fedsign::train
