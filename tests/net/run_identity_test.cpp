// The run id a server hands its clients (net/run_identity.h): new for every fresh run, the same
// across a resume, so that a client's saved state follows its run and no other.
#include "fedsign/net/run_identity.h"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>

#include "fedsign/core/check.h"
#include "tests/testing/temp_dir.h"

namespace fedsign::net {
namespace {

TEST(RunIdentity, FreshRunsGetNewIdsAndAResumeKeepsTheStoredOne) {
  testing::TempDir tmp;
  const std::string first = federation_run_id(tmp.path(), false);
  EXPECT_TRUE(std::regex_match(first, std::regex("[0-9a-f]{32}"))) << first;
  EXPECT_EQ(federation_run_id(tmp.path(), true), first) << "a resumed server serves the same run";
  const std::string second = federation_run_id(tmp.path(), false);
  EXPECT_NE(second, first) << "a fresh run in the same directory is another run";
  EXPECT_EQ(federation_run_id(tmp.path(), true), second);
}

TEST(RunIdentity, ResumeWithoutAStoredIdStartsOneAndAMalformedOneIsAnError) {
  testing::TempDir tmp;
  const std::string id = federation_run_id(tmp / "old", true);  // a run from before run ids
  EXPECT_EQ(federation_run_id(tmp / "old", true), id);
  std::ofstream(tmp / "old" / "run_id") << "not-an-id\n";
  try {
    federation_run_id(tmp / "old", true);
    FAIL() << "expected an error";
  } catch (const fedsign::Error& e) {
    EXPECT_NE(std::string(e.what()).find("run_id: not a run id"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fedsign::net
