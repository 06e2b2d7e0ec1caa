// Atomic and durable file output: a failing writer leaves the old file and no temporary behind,
// a durable write with keep_previous keeps exactly one previous generation.
#include "fedsign/core/atomic_file.h"

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

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

// A reader (a resuming server, `fedsign serve`) must never find the target missing while a new
// generation takes its place: a process killed between two renames would otherwise leave only
// the previous generation. Polled from a second thread over many writes.
TEST(AtomicFile, KeepPreviousNeverLeavesTheTargetMissing) {
  testing::TempDir tmp;
  const fs::path file = tmp / "ckpt";
  const AtomicWriteOptions options{.keep_previous = tmp / "ckpt.prev"};
  auto write = [&](int round) {
    write_stream_atomically(file, [&](std::ostream& out) { out << "round " << round; }, options);
  };
  write(0);
  std::atomic<bool> done{false};
  std::atomic<int> missing{0}, polls{0};
  std::thread reader([&] {
    while (!done) {
      if (!fs::exists(file)) ++missing;
      ++polls;
    }
  });
  for (int round = 1; round <= 2000; ++round) write(round);
  done = true;
  reader.join();
  EXPECT_EQ(missing.load(), 0) << "of " << polls.load() << " polls";
  EXPECT_EQ(read(file), "round 2000");
  EXPECT_EQ(read(tmp / "ckpt.prev"), "round 1999");
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
