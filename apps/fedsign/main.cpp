// fedsign: thin command-line front end. Parses options, calls the library, maps errors to exit
// codes. Each subcommand lives in its own cmd_*.cpp.
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <iostream>

#include "commands.h"
#include "fedsign/core/allocator.h"
#include "fedsign/core/check.h"
#include "fedsign/core/logging.h"

int main(int argc, char** argv) {
  // Before any large allocation: freed batches stay mapped for the next one (core/allocator.h).
  fedsign::keep_freed_memory_mapped();
  CLI::App app{"fedsign: federated traffic-sign recognition (GTSRB) in C++"};
  app.require_subcommand(1);
  // Global options (--log-level) may also follow the subcommand.
  app.fallthrough();
  // Every option can also come from a TOML/INI config file, with the flag's long name as key.
  app.set_config("--config", "", "Read options from a TOML config file (keys = option names)");
  fedsign::cli::use_command_config(app);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();

  fedsign::cli::register_commands(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    fedsign::setup_logging(log_level);
    fedsign::cli::run_selected(app);
  } catch (const fedsign::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
