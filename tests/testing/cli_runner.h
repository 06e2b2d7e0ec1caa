// Runs the built fedsign program (FEDSIGN_CLI) for end-to-end tests.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

namespace fedsign::testing {

struct CommandResult {
  int exit_code = 0;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Success if `program` (default: the built fedsign, FEDSIGN_CLI) is an executable file; else a
// failure naming it. End-to-end tests ASSERT it: a CLI that was not built fails them, it never
// skips them, so a suite without the program cannot pass.
::testing::AssertionResult cli_is_built(const std::filesystem::path& program = FEDSIGN_CLI);

// Runs `fedsign ARGS` through the shell; stderr goes through a file in `scratch_dir`. Adds a
// test failure (and returns exit code 127) if the program is missing.
CommandResult run_cli(const std::string& args, const std::filesystem::path& scratch_dir);
CommandResult run_program(const std::filesystem::path& program, const std::string& args,
                          const std::filesystem::path& scratch_dir);

std::size_t count_lines(const std::filesystem::path& file);

}  // namespace fedsign::testing
