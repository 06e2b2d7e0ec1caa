#include "tests/testing/cli_runner.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "tests/testing/gtsrb_fixture.h"

namespace fedsign::testing {

::testing::AssertionResult cli_is_built(const std::filesystem::path& program) {
  if (::access(program.c_str(), X_OK) == 0 && std::filesystem::is_regular_file(program)) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << program.string() << " is not built (build it: cmake --build build --target fedsign_cli)";
}

CommandResult run_cli(const std::string& args, const std::filesystem::path& scratch_dir) {
  return run_program(FEDSIGN_CLI, args, scratch_dir);
}

CommandResult run_program(const std::filesystem::path& program, const std::string& args,
                          const std::filesystem::path& scratch_dir) {
  CommandResult result;
  if (const auto built = cli_is_built(program); !built) {
    ADD_FAILURE() << built.message();
    result.exit_code = 127;
    result.err = built.message();
    return result;
  }
  const auto err_file = scratch_dir / "stderr.txt";
  const std::string command = program.string() + " " + args + " 2>" + err_file.string();
  FILE* pipe = ::popen(command.c_str(), "r");
  std::array<char, 4096> buffer{};
  while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) {
    result.out.append(buffer.data(), n);
  }
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.err = read_text(err_file);
  return result;
}

std::size_t count_lines(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::size_t n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

}  // namespace fedsign::testing
