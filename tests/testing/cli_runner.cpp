#include "tests/testing/cli_runner.h"

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "tests/testing/gtsrb_fixture.h"

namespace fedsign::testing {

CommandResult run_cli(const std::string& args, const std::filesystem::path& scratch_dir) {
  const auto err_file = scratch_dir / "stderr.txt";
  const std::string command = std::string(FEDSIGN_CLI) + " " + args + " 2>" + err_file.string();
  CommandResult result;
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
