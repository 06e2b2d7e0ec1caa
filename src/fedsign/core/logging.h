// Logging goes through spdlog; this sets the one format all fedsign programs use.
#pragma once

#include <string>

namespace fedsign {

// level: trace, debug, info, warn, error, off.
void setup_logging(const std::string& level);

}  // namespace fedsign
