// Runs the built fedsign program (FEDSIGN_CLI) for end-to-end tests.
#pragma once

#include <filesystem>
#include <string>

namespace fedsign::testing {

struct CommandResult {
  int exit_code = 0;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `fedsign ARGS` through the shell; stderr goes through a file in `scratch_dir`.
CommandResult run_cli(const std::string& args, const std::filesystem::path& scratch_dir);

std::size_t count_lines(const std::filesystem::path& file);

}  // namespace fedsign::testing
