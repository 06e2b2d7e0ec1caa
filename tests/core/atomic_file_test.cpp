// Atomic and durable file output: a failing writer leaves the old file and no temporary behind,
// a durable write with keep_previous keeps exactly one previous generation.
#include "fedsign/core/atomic_file.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
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

int round_in(const fs::path& p) {
  const std::string text = read(p);
  EXPECT_EQ(text.rfind("round ", 0), 0u) << p << " holds '" << text << "'";
  return text.size() > 6 ? std::stoi(text.substr(6)) : -1;
}

// A process killed at any moment of a write with keep_previous leaves the target complete and,
// once there were two generations, the previous one as a separate, older file: never one file
// under both names (then damage to it in place, a bad sector, would leave no generation). A child
// process writes generations until SIGKILLed at a varying moment; 200 kills, each in a fresh
// directory, a few milliseconds each. The temporaries a kill leaves are then removed.
TEST(AtomicFile, AKillAtAnyMomentLeavesThePreviousGenerationAsASeparateOlderFile) {
  testing::TempDir tmp;
  int with_previous = 0, removed = 0;
  for (int trial = 0; trial < 200; ++trial) {
    const fs::path dir = tmp / std::to_string(trial);
    fs::create_directories(dir);
    const fs::path file = dir / "ckpt", prev = dir / "ckpt.prev";
    const pid_t child = ::fork();
    ASSERT_GE(child, 0) << "fork failed";
    if (child == 0) {
      try {
        const AtomicWriteOptions options{.keep_previous = prev};
        for (int round = 1;; ++round)
          write_stream_atomically(file, [&](std::ostream& out) { out << "round " << round; }, options);
      } catch (...) {
      }
      ::_exit(1);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500 + (trial * 397) % 2500));
    ::kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the writer stopped by itself at trial " << trial;
    if (!fs::exists(file)) continue;  // killed before its first rename
    const int latest = round_in(file);
    if (!fs::exists(prev)) continue;
    ++with_previous;
    ASSERT_FALSE(fs::equivalent(file, prev)) << "trial " << trial << ": one file, both names";
    ASSERT_LT(round_in(prev), latest) << "trial " << trial;
    // What the dead writer left half done goes; what a live one (this process) writes stays.
    const fs::path live = dir / fmt::format(".ckpt.tmp{}-7", ::getpid());
    std::ofstream(live) << "being written";
    removed += remove_stale_temporaries(file, prev);
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string name = entry.path().filename().string();
      EXPECT_TRUE(name == "ckpt" || name == "ckpt.prev" || entry.path() == live)
          << "trial " << trial << ": " << name << " left behind";
    }
    EXPECT_TRUE(fs::exists(live));
  }
  EXPECT_GT(with_previous, 50) << "most kills should land after a few generations";
  EXPECT_GT(removed, 0) << "some kills should land inside a write";
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
