// End-to-end tests must fail, not skip, when the fedsign program is missing: cli_is_built() is a
// failure naming the path, and run_program() records a test failure instead of running nothing.
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include "tests/testing/cli_runner.h"
#include "tests/testing/temp_dir.h"

namespace fedsign {
namespace {

TEST(CliMissing, AMissingProgramIsAFailureNotASkip) {
  EXPECT_TRUE(testing::cli_is_built());  // the real one is built (the fl tests depend on it)
  const auto missing = testing::cli_is_built("/nonexistent/fedsign");
  EXPECT_FALSE(missing);
  EXPECT_NE(std::string(missing.message()).find("/nonexistent/fedsign is not built"),
            std::string::npos)
      << missing.message();
  // What FlCli::SetUp does, with a program that does not exist: a fatal failure.
  EXPECT_FATAL_FAILURE(ASSERT_TRUE(testing::cli_is_built("/nonexistent/fedsign")),
                       "/nonexistent/fedsign is not built");
  // Running it records a failure too.
  EXPECT_NONFATAL_FAILURE(
      {
        testing::TempDir tmp;
        const auto r = testing::run_program("/nonexistent/fedsign", "--version", tmp.path());
        EXPECT_EQ(r.exit_code, 127);
      },
      "/nonexistent/fedsign is not built");
  // A folder is not a program.
  testing::TempDir tmp;
  EXPECT_FALSE(testing::cli_is_built(tmp.path()));
}

}  // namespace
}  // namespace fedsign
