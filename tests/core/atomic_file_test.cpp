// Atomic and durable file output: a failing writer leaves the old file and no temporary behind,
// a durable write with keep_previous keeps exactly one previous generation.
#include "fedsign/core/atomic_file.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

#include "fedsign/core/check.h"
#include "tests/testing/temp_dir.h"

namespace fedsign {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int entries(const fs::path& dir) {
  int n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

TEST(AtomicFile, AFailingWriterLeavesTheOldContentAndNoTemporary) {
  testing::TempDir tmp;
  const fs::path file = tmp / "out.txt";
  write_text_atomically(file, "old");
  EXPECT_THROW(write_stream_atomically(file,
                                       [](std::ostream& out) {
                                         out << "half of the new";
                                         throw std::runtime_error("disk gone");
                                       }),
               std::runtime_error);
  EXPECT_EQ(read(file), "old");
  EXPECT_EQ(entries(tmp.path()), 1) << "the temporary file was removed";
  EXPECT_THROW(write_atomically(tmp / "never.txt", [](const fs::path&) {}), fedsign::Error)
      << "a writer that creates nothing is an error";
}

TEST(AtomicFile, KeepPreviousHoldsExactlyTheGenerationBefore) {
  testing::TempDir tmp;
  const fs::path file = tmp / "sub" / "ckpt";
  const fs::path prev = tmp / "sub" / "ckpt.prev";
  const AtomicWriteOptions options{.durable = true, .keep_previous = prev};
  auto write = [&](const std::string& text) {
    write_stream_atomically(file, [&](std::ostream& out) { out << text; }, options);
  };
  write("round 1");
  EXPECT_EQ(read(file), "round 1");
  EXPECT_FALSE(fs::exists(prev)) << "nothing to keep the first time";
  write("round 2");
  write("round 3");
  EXPECT_EQ(read(file), "round 3");
  EXPECT_EQ(read(prev), "round 2");
  EXPECT_EQ(entries(tmp / "sub"), 2);
}

TEST(AtomicFile, FsyncOfAMissingPathNamesIt) {
  testing::TempDir tmp;
  try {
    fsync_path(tmp / "absent");
    FAIL() << "no error";
  } catch (const fedsign::Error& e) {
    EXPECT_NE(std::string(e.what()).find("absent"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fedsign
