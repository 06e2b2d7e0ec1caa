#include "fedsign/core/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace fedsign {

void setup_logging(const std::string& level) {
  // Log to stderr so stdout stays clean for machine-readable output (predict --json).
  auto logger = spdlog::stderr_color_mt("fedsign");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");
  spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace fedsign
